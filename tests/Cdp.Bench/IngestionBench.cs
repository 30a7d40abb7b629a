using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Cdp.Shared.Cleansing;
using Cdp.Shared.Ingestion;
using Cdp.Shared.Storage;
using Cdp.Tests.Support;
using Npgsql;

namespace Cdp.Bench;

/// <summary>
/// ./cdp bench [ingest] [--records N] [--concurrency C] [--accept-only] [--keep]: webhook -> resolved entity on this
/// machine, printed beside same-run baselines (raw durable Postgres inserts; the write floor, <see cref="WriteFloor"/>), with
/// where a record's time went per hop.
/// ./cdp bench ingest --rate R [--records N]: the same records offered at R a second (not as fast as possible), for the
/// lag received -> resolved p50/p99 at that rate.
/// ./cdp bench ingest --telemetry-compare [--records N]: the same pipeline with telemetry off and then on
/// (Observability:Enabled), each on a fresh database, and the overhead as a ratio.
/// </summary>
static class IngestionBench
{
    public static async Task RunAsync(string[] args)
    {
        var records = Args.Int(args, "--records", 10_000);
        var concurrency = Args.Int(args, "--concurrency", 32);
        if (args.Contains("--telemetry-compare"))
        {
            await CompareTelemetryAsync(records, concurrency, keep: args.Contains("--keep"));
            return;
        }
        await using var scratch = await ScratchDatabase.CreateAsync(keep: args.Contains("--keep"));
        var db = scratch.DataSource;
        Console.WriteLine($"cdp bench ingest: {records:N0} records, {concurrency} concurrent senders, {Environment.ProcessorCount} cores, database {scratch.Name}");
        var baseline = await Baseline.DurableInsertsAsync(db, records, concurrency);
        Report.Line("baseline: raw Postgres INSERT 1 KB jsonb, 1 tx each", baseline);

        await using var host = await BenchHost.StartAsync(scratch, new Dictionary<string, string?>
        {
            ["Topics:ConsumersEnabled"] = args.Contains("--accept-only") ? "false" : "true",
        });

        await WarmUpAsync(host, db, Args.Int(args, "--warm-up", 4000), concurrency, acceptOnly: args.Contains("--accept-only"));
        var payloads = Workload.Build(records);
        var rate = Args.Int(args, "--rate", 0);
        var writesBefore = await WriteFloor.BeforeRunAsync(db);
        var cpu = CpuUse.Now(host.Pid);
        var startedAt = DateTime.UtcNow;
        var started = Stopwatch.StartNew();
        var accept = rate > 0
            ? await Sender.SendAtRateAsync(host.Client, payloads, concurrency, rate, BenchHost.SecretOf)
            : await Sender.SendAsync(host.Client, payloads, concurrency, BenchHost.SecretOf);
        var acceptedAt = started.Elapsed;
        var settledByThen = await SettledAsync(db);
        Report.Line(rate > 0 ? $"webhook -> 202 at {rate:N0}/s offered" : "webhook -> 202 (durable receipt + queued)", accept);
        if (args.Contains("--accept-only"))
        {
            Console.WriteLine($"CPU, send to the last 202         : {CpuUse.Now(host.Pid).PerItemSince(cpu, records, "record")}");
            return;
        }

        await UntilSettledAsync(db, records, TimeSpan.FromMinutes(30));
        var endToEnd = await LastProcessedAsync(db) - startedAt;
        var drained = records - settledByThen;
        Console.WriteLine($"backlog drain after the last 202    : {drained / (endToEnd - acceptedAt).TotalSeconds,10:N0} records/s  ({drained:N0} left when sending ended, {settledByThen:N0} already settled)");

        var (counts, lagP50, lagP99) = await Report.OutcomesAsync(db);
        Console.WriteLine($"webhook -> resolved entity       : {records / endToEnd.TotalSeconds,10:N0} records/s  ({records:N0} in {endToEnd.TotalSeconds:N1} s, lag received->processed p50 {lagP50:N0} ms, p99 {lagP99:N0} ms)");
        if (rate > 0)
            Console.WriteLine($"lag at {rate:N0}/s offered          : p50 {lagP50:N0} ms, p99 {lagP99:N0} ms (received -> processed)");
        Console.WriteLine($"per hop                          : {await Report.HopsAsync(db)}");
        Console.WriteLine($"CPU, send to settled             : {CpuUse.Now(host.Pid).PerItemSince(cpu, records, "record")}");
        Console.WriteLine($"outcomes                         : {counts}");
        Console.WriteLine($"ratio webhook->resolved / baseline: {records / endToEnd.TotalSeconds / baseline.PerSecond:P0}");
        await host.StopAsync();
        await WriteFloor.PrintAfterRunAsync(db, writesBefore, records, records / endToEnd.TotalSeconds);
    }

    /// <summary>
    /// Telemetry's cost: webhook -> resolved entity with Observability:Enabled=false, then =true (spans for every request,
    /// message, resolution and SQL statement, the instruments, the /metrics reader; no exporter, so no collector is
    /// needed and the figure is the instrumentation's own cost), each on its own fresh database and host.
    /// </summary>
    static async Task CompareTelemetryAsync(int records, int concurrency, bool keep)
    {
        Console.WriteLine($"cdp bench ingest --telemetry-compare: {records:N0} records, {concurrency} concurrent senders, {Environment.ProcessorCount} cores");
        var off = await EndToEndAsync(records, concurrency, keep, telemetry: false);
        var on = await EndToEndAsync(records, concurrency, keep, telemetry: true);
        Console.WriteLine($"telemetry on / off (webhook -> 202)     : {on.Accept.PerSecond / off.Accept.PerSecond,8:P1} of the throughput (p99 {on.Accept.P99Ms:N1} ms vs {off.Accept.P99Ms:N1} ms)");
        Console.WriteLine($"telemetry on / off (webhook -> resolved): {on.EndToEnd / off.EndToEnd,8:P1} of the throughput, overhead ratio {off.EndToEnd / on.EndToEnd:N3}x");
    }

    static async Task<(Figures Accept, double EndToEnd)> EndToEndAsync(int records, int concurrency, bool keep, bool telemetry)
    {
        await using var scratch = await ScratchDatabase.CreateAsync(keep);
        var db = scratch.DataSource;
        await using var host = await BenchHost.StartAsync(scratch, new Dictionary<string, string?> { ["Observability:Enabled"] = telemetry ? "true" : "false" });
        var payloads = Workload.Build(records);
        var started = Stopwatch.StartNew();
        var accept = await Sender.SendAsync(host.Client, payloads, concurrency, BenchHost.SecretOf);
        await UntilSettledAsync(db, records, TimeSpan.FromMinutes(30));
        var perSecond = records / started.Elapsed.TotalSeconds;
        var label = telemetry ? "telemetry on " : "telemetry off";
        Report.Line($"{label}: webhook -> 202", accept);
        Console.WriteLine($"{label}: webhook -> resolved entity : {perSecond,10:N0} records/s  ({records:N0} in {started.Elapsed.TotalSeconds:N1} s)");
        await host.StopAsync();
        return (accept, perSecond);
    }

    const int WarmUpRounds = 12;

    /// <summary>
    /// Untimed: <paramref name="count"/> records of other people and companies (the workload's crm contacts and
    /// WeChat leads, renamed) through the same webhook -> cleansing -> resolution path, so the timed part starts with
    /// a warm JIT; then, once they and their follow-up messages are through, their receipts and reviews are removed
    /// so the timed figures (settled count, outcomes, lag) are the measured records' alone. Rounds of 4,000 by default
    /// (~10 s each) until the JIT has settled (<see cref="JitWarmUp"/>; after one round perf still had ~30 % of the
    /// timed part's samples in the JIT).
    /// </summary>
    /// <param name="acceptOnly">The consumers are off: nothing settles, so a round's queued messages are removed with its receipts.</param>
    static async Task WarmUpAsync(HostProcess host, NpgsqlDataSource db, int count, int concurrency, bool acceptOnly)
    {
        if (count <= 0) return;
        var all = Workload.Build(count * WarmUpRounds);
        await JitWarmUp.RunAsync(host.Pid, WarmUpRounds, async round =>
        {
            // Each round its own slice of the workload: other people than the rounds before, so none is a duplicate.
            var payloads = all.Skip(round * count).Take(count).Where(p => p.Channel != "erp").Select(p => (p.Channel, Json: Rename(p.Json))).ToList();
            await Sender.SendAsync(host.Client, payloads, concurrency, BenchHost.SecretOf);
            if (!acceptOnly)
            {
                await UntilSettledAsync(db, payloads.Count, TimeSpan.FromMinutes(5));
                await Eventually.Until(async () => (long)(await db.CreateCommand("select count(*) from topic_message where status = 'pending'").ExecuteScalarAsync())! == 0,
                    TimeSpan.FromMinutes(5));
            }

            await using var batch = db.CreateBatch();
            if (acceptOnly) batch.BatchCommands.Add(new("delete from topic_message"));
            batch.BatchCommands.Add(new("delete from identity_review"));
            batch.BatchCommands.Add(new("delete from ingestion_receipt"));
            await batch.ExecuteNonQueryAsync();
            return $"{payloads.Count:N0} records through the same path, then their receipts removed";
        });

        // Other source ids, mobiles, e-mails, WeChat ids and companies than the measured records', so those meet none of these.
        static string Rename(string json) => Regex.Replace(json, "\"13(\\d{9})\"", "\"15$1\"")
            .Replace("\"crm-", "\"warm-crm-", StringComparison.Ordinal).Replace("-bench-", "-warm-", StringComparison.Ordinal)
            .Replace("@bench.example.com", "@warm.example.com", StringComparison.Ordinal)
            .Replace(Escaped("科技有限公司"), Escaped("预热有限公司"), StringComparison.Ordinal);

        // As the serializer writes the company names (non-ASCII escaped).
        static string Escaped(string text) => JsonSerializer.Serialize(text)[1..^1];
    }

    /// <summary>
    /// Polls every second, not Eventually's 20 ms: the count reads every receipt (~10 ms of Postgres CPU at 10,000); at
    /// 20 ms the bench's own polling was a fifth of the run's Postgres time, at 250 ms still ~3 % (pg_stat_statements). The end-to-end time is
    /// read from the receipts (<see cref="LastProcessedAsync"/>), so the interval does not blur it.
    /// </summary>
    static async Task UntilSettledAsync(NpgsqlDataSource db, long count, TimeSpan timeout)
    {
        var waited = Stopwatch.StartNew();
        while (await SettledAsync(db) < count)
        {
            if (waited.Elapsed > timeout) throw new TimeoutException($"Not all {count:N0} receipts settled within {timeout}");
            await Task.Delay(1000);
        }
    }

    /// <summary>When the last receipt was settled (the same machine's clock as the bench's).</summary>
    static async Task<DateTime> LastProcessedAsync(NpgsqlDataSource db) =>
        (DateTime)(await db.CreateCommand("select max(processed_at) from ingestion_receipt").ExecuteScalarAsync())!;

    static async Task<long> SettledAsync(NpgsqlDataSource db) =>
        (long)(await db.CreateCommand("select count(*) from ingestion_receipt where status <> 'queued'").ExecuteScalarAsync())!;
}
