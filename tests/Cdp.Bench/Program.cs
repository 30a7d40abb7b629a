using Cdp.Bench;

// ./cdp bench [ingest|orchestrations|events|views|calls|import] [options]: each prints its figures beside a same-run baseline.
if (args.FirstOrDefault() == "import") await ImportBench.RunAsync(args[1..]);
else if (args.FirstOrDefault() == "calls") await CallsBench.RunAsync(args[1..]);
else if (args.FirstOrDefault() == "views") await ViewsBench.RunAsync(args[1..]);
else if (args.FirstOrDefault() == "events") await EventsBench.RunAsync(args[1..]);
else if (args.FirstOrDefault() == "orchestrations") await OrchestrationBench.RunAsync(args[1..]);
else await IngestionBench.RunAsync(args.FirstOrDefault() == "ingest" ? args[1..] : args);
