using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Cdp.Shared;
using Cdp.Shared.Events;
using Cdp.Tests.Support;

namespace Cdp.Bench;

/// <summary>
/// ./cdp bench events [--events N] [--concurrency C] [--warmup-seconds S] [--keep]: SDK events POSTed in batches of
/// 1000 until the rows are visible in ClickHouse, printed beside a same-run raw JSONEachRow insert of the same rows.
/// An untimed warm-up of the same path comes first: the host is a fresh process whose JIT needs ~25 s of work.
/// 500,000 events by default (~6-9 s): a run of 100,000 lasted ~2 s, a fifth of it the last writer batch's insert after the
/// last POST, so it measured the pipeline's tail more than its rate.
/// </summary>
static class EventsBench
{
    const int RequestBatch = 1000;
    const int RawBatch = 10_000;

    public static async Task RunAsync(string[] args)
    {
        var count = Args.Int(args, "--events", 500_000);
        var concurrency = Args.Int(args, "--concurrency", 8);
        var warmupSeconds = Args.Int(args, "--warmup-seconds", 25);
        await using var scratch = await ScratchDatabase.CreateAsync(keep: args.Contains("--keep"));
        var chDb = scratch.Name;   // cdp_bench_<time>, a valid ClickHouse name too
        using var ch = LocalServers.ClickHouseClient();
        ch.Timeout = TimeSpan.FromMinutes(5);
        Console.WriteLine($"cdp bench events: {count:N0} events, {concurrency} concurrent senders of {RequestBatch}, {Environment.ProcessorCount} cores, databases {scratch.Name}");

        var now = DateTimeOffset.UtcNow;
        var accounts = Enumerable.Range(0, 200).Select(_ => Guid.NewGuid()).ToArray();
        var types = new[] { "page_view", "click", "download", "video_play", "form_view" };
        var events = Events("bench", 0, count);

        List<SdkEvent> Events(string prefix, int from, int n) => [.. Enumerable.Range(from, n).Select(i => new SdkEvent(
            $"{prefix}-{i}", $"user-{i % Math.Max(1, count / 20)}", accounts[i % accounts.Length], types[i % types.Length],
            now.AddSeconds(-i % 86_400).ToString("O"), new SdkProperties($"/products/{i % 97}", "https://www.baidu.com/", "bench")))];
        // Request bodies are serialised before the clock starts (as the baseline's rows are): the client's JSON work is not
        // ours. Escaped as a browser's JSON.stringify does (the web defaults would write every '+' of a time as \u002B).
        static byte[] Body(IEnumerable<SdkEvent> batch) => JsonSerializer.SerializeToUtf8Bytes(new { events = batch }, SdkJson);

        try
        {
            // Baseline: the same rows straight into ClickHouse, RawBatch rows per INSERT, one after another.
            await Sql(ch, $"CREATE DATABASE IF NOT EXISTS {chDb}");
            var rawTable = $"{chDb}.raw_behaviour_event";
            await Sql(ch, ClickHouseHttp.CreateTableSqlFor(rawTable));
            var rows = events.Select(e => JsonSerializer.Serialize(EventRow.From(
                new ValidEvent(e.EventId, e.UserId, null, null, e.AccountId, e.Type,
                    DateTimeOffset.Parse(e.OccurredAt, CultureInfo.InvariantCulture), JsonSerializer.Serialize(e.Properties, JsonSerializerOptions.Web)), now),
                CdpJson.Options)).ToList();
            var raw = Stopwatch.StartNew();
            foreach (var chunk in rows.Chunk(RawBatch))
            {
                using var content = new StringContent(string.Join('\n', chunk), Encoding.UTF8);
                using var response = await ch.PostAsync($"?query={Uri.EscapeDataString($"INSERT INTO {rawTable} FORMAT JSONEachRow")}", content);
                response.EnsureSuccessStatusCode();
            }
            raw.Stop();
            Report.Line($"baseline: raw JSONEachRow, {RawBatch:N0}/INSERT", new Figures(count, raw.Elapsed, 0, 0));

            await using var host = await BenchHost.StartAsync(scratch, new Dictionary<string, string?> { ["ClickHouse:Database"] = chDb });
            Console.WriteLine($"host pid {host.Pid}");

            async Task<long> VisibleAsync()
            {
                try { return long.Parse(await Sql(ch, $"SELECT count() FROM {chDb}.{ClickHouseHttp.Table}"), CultureInfo.InvariantCulture); }
                catch (HttpRequestException) { return -1; }
            }
            async Task PostAllAsync(IEnumerable<byte[]> bodies, List<double>? latencies, CancellationToken stop = default)
            {
                await Parallel.ForEachAsync(bodies, new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = stop }, async (body, ct) =>
                {
                    var t = Stopwatch.StartNew();
                    using var content = new ByteArrayContent(body);
                    content.Headers.ContentType = new("application/json");
                    using var response = await host.Client.PostAsync("/api/events", content, ct);
                    if ((int)response.StatusCode != 202) throw new InvalidOperationException($"POST /api/events answered {(int)response.StatusCode}");
                    if (latencies is not null) lock (latencies) latencies.Add(t.Elapsed.TotalMilliseconds);
                });
            }

            // Untimed warm-up: the same path (accept, writer, ClickHouse) with events of their own until the JIT settles.
            var warmed = 0;
            if (warmupSeconds > 0)
            {
                var warmClock = Stopwatch.StartNew();
                while (warmClock.Elapsed < TimeSpan.FromSeconds(warmupSeconds))
                {
                    await PostAllAsync(Events("warm", warmed, 8 * RequestBatch).Chunk(RequestBatch).Select(Body), null);
                    warmed += 8 * RequestBatch;
                }
                await Eventually.Until(async () => await VisibleAsync() >= warmed, TimeSpan.FromMinutes(10));
                Console.WriteLine($"warm-up (untimed)                  : {warmed:N0} events through the same path in {warmClock.Elapsed.TotalSeconds:N1} s");
            }

            // The host's CPU while idle (its timers and pollers), to read the per-event figure below against.
            var idleFrom = CpuUse.Read(host.Pid).Seconds;
            await Task.Delay(TimeSpan.FromSeconds(5));
            var idleMsPerSecond = (CpuUse.Read(host.Pid).Seconds - idleFrom) * 1000 / 5;

            var bodies = events.Chunk(RequestBatch).Select(Body).ToList();
            var latencies = new List<double>();
            var hostCpu = CpuUse.Read(host.Pid).Seconds;
            var started = Stopwatch.StartNew();
            await PostAllAsync(bodies, latencies);
            var acceptedIn = started.Elapsed;
            latencies.Sort();
            Report.Line($"POST /api/events -> 202 ({RequestBatch}/request)", new Figures(count, acceptedIn,
                Report.Percentile(latencies, 0.5), Report.Percentile(latencies, 0.99)));

            await Eventually.Until(async () => await VisibleAsync() >= warmed + count, TimeSpan.FromMinutes(30));
            var endToEnd = started.Elapsed;
            Report.Line("POST -> rows visible in ClickHouse", new Figures(count, endToEnd, 0, 0));
            Console.WriteLine($"ratio end to end / raw insert      : {count / endToEnd.TotalSeconds / (count / raw.Elapsed.TotalSeconds):P0}");
            // CPU the host process spent (user + system), which a machine busy with other work changes far less than the rates.
            Console.WriteLine($"host process CPU                   : {(CpuUse.Read(host.Pid).Seconds - hostCpu) * 1000 / (count / 1000.0):N1} ms per 1,000 events (idle: {idleMsPerSecond:N0} ms per second)");
            await host.StopAsync();
        }
        finally
        {
            if (!args.Contains("--keep")) await Sql(ch, $"DROP DATABASE IF EXISTS {chDb}");
        }
    }

    static readonly JsonSerializerOptions SdkJson = new(JsonSerializerDefaults.Web) { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    sealed record SdkEvent(string EventId, string UserId, Guid AccountId, string Type, string OccurredAt, SdkProperties Properties);

    sealed record SdkProperties(string Path, string Referrer, string Campaign);

    static async Task<string> Sql(HttpClient ch, string sql)
    {
        using var response = await ch.PostAsync("", new StringContent(sql, Encoding.UTF8, "text/plain"));
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode) throw new HttpRequestException($"ClickHouse {(int)response.StatusCode}: {text}");
        return text.Trim();
    }
}
