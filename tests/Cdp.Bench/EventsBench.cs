using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Cdp.Shared;
using Cdp.Shared.Events;
using Cdp.Tests.Support;

namespace Cdp.Bench;

/// <summary>
/// ./cdp bench events [--events N] [--concurrency C] [--keep]: SDK events POSTed in batches of 1000 until the rows
/// are visible in ClickHouse, printed beside a same-run raw JSONEachRow insert of the same rows.
/// </summary>
static class EventsBench
{
    const int RequestBatch = 1000;
    const int RawBatch = 10_000;

    public static async Task RunAsync(string[] args)
    {
        var count = Args.Int(args, "--events", 100_000);
        var concurrency = Args.Int(args, "--concurrency", 8);
        await using var scratch = await ScratchDatabase.CreateAsync(keep: args.Contains("--keep"));
        var chDb = scratch.Name;   // cdp_bench_<time>, a valid ClickHouse name too
        using var ch = LocalServers.ClickHouseClient();
        ch.Timeout = TimeSpan.FromMinutes(5);
        Console.WriteLine($"cdp bench events: {count:N0} events, {concurrency} concurrent senders of {RequestBatch}, {Environment.ProcessorCount} cores, databases {scratch.Name}");

        var now = DateTimeOffset.UtcNow;
        var accounts = Enumerable.Range(0, 200).Select(_ => Guid.NewGuid()).ToArray();
        var types = new[] { "page_view", "click", "download", "video_play", "form_view" };
        var events = Enumerable.Range(0, count).Select(i => new
        {
            eventId = $"bench-{i}",
            userId = $"user-{i % Math.Max(1, count / 20)}",
            accountId = accounts[i % accounts.Length],
            type = types[i % types.Length],
            occurredAt = now.AddSeconds(-i % 86_400).ToString("O"),
            properties = new { path = $"/products/{i % 97}", referrer = "https://www.baidu.com/", campaign = "bench" },
        }).ToList();

        try
        {
            // Baseline: the same rows straight into ClickHouse, RawBatch rows per INSERT, one after another.
            await Sql(ch, $"CREATE DATABASE IF NOT EXISTS {chDb}");
            var rawTable = $"{chDb}.raw_behaviour_event";
            await Sql(ch, ClickHouseHttp.CreateTableSqlFor(rawTable));
            var rows = events.Select(e => JsonSerializer.Serialize(EventRow.From(
                new ValidEvent(e.eventId, e.userId, null, null, e.accountId, e.type, DateTimeOffset.Parse(e.occurredAt, CultureInfo.InvariantCulture),
                    JsonSerializer.Serialize(e.properties)), now), CdpJson.Options)).ToList();
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
            // The host's CPU while idle (its timers and pollers), to read the per-event figure below against.
            var idleFrom = CpuSeconds(host.Pid);
            await Task.Delay(TimeSpan.FromSeconds(5));
            var idleMsPerSecond = (CpuSeconds(host.Pid) - idleFrom) * 1000 / 5;
            var hostCpu = CpuSeconds(host.Pid);

            var batches = events.Chunk(RequestBatch).ToList();
            var latencies = new List<double>();
            var started = Stopwatch.StartNew();
            await Parallel.ForEachAsync(batches, new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (batch, ct) =>
            {
                var t = Stopwatch.StartNew();
                using var response = await host.Client.PostAsJsonAsync("/api/events", new { events = batch }, ct);
                if ((int)response.StatusCode != 202) throw new InvalidOperationException($"POST /api/events answered {(int)response.StatusCode}");
                lock (latencies) latencies.Add(t.Elapsed.TotalMilliseconds);
            });
            var acceptedIn = started.Elapsed;
            latencies.Sort();
            Report.Line($"POST /api/events -> 202 ({RequestBatch}/request)", new Figures(count, acceptedIn,
                Report.Percentile(latencies, 0.5), Report.Percentile(latencies, 0.99)));

            long visible = 0;
            await Eventually.Until(async () =>
            {
                try { visible = long.Parse(await Sql(ch, $"SELECT count() FROM {chDb}.{ClickHouseHttp.Table}"), CultureInfo.InvariantCulture); }
                catch (HttpRequestException) { }
                return visible >= count;
            }, TimeSpan.FromMinutes(30));
            var endToEnd = started.Elapsed;
            Report.Line("POST -> rows visible in ClickHouse", new Figures(count, endToEnd, 0, 0));
            Console.WriteLine($"ratio end to end / raw insert      : {count / endToEnd.TotalSeconds / (count / raw.Elapsed.TotalSeconds):P0}");
            // CPU the host process spent (user + system), which a machine busy with other work changes far less than the rates.
            Console.WriteLine($"host process CPU                   : {(CpuSeconds(host.Pid) - hostCpu) * 1000 / (count / 1000.0):N1} ms per 1,000 events (idle: {idleMsPerSecond:N0} ms per second)");
            await host.StopAsync();
        }
        finally
        {
            if (!args.Contains("--keep")) await Sql(ch, $"DROP DATABASE IF EXISTS {chDb}");
        }
    }

    /// <summary>User + system CPU seconds of a process so far (Linux /proc; 0 elsewhere).</summary>
    static double CpuSeconds(int pid)
    {
        var stat = $"/proc/{pid}/stat";
        if (!File.Exists(stat)) return 0;
        var fields = File.ReadAllText(stat).Split(')')[^1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // After the command: state is field 3, so utime (14) and stime (15) are at 11 and 12 here; ticks of 1/100 s.
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
    }

    static async Task<string> Sql(HttpClient ch, string sql)
    {
        using var response = await ch.PostAsync("", new StringContent(sql, Encoding.UTF8, "text/plain"));
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode) throw new HttpRequestException($"ClickHouse {(int)response.StatusCode}: {text}");
        return text.Trim();
    }
}
