using System.Diagnostics;
using Cdp.Orchestrations;
using Cdp.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Cdp.Bench;

/// <summary>
/// ./cdp bench orchestrations [--instances N] [--keep]: the local durable engine running N three-activity chains,
/// beside a same-run baseline: the raw Postgres queue hop (claim one row with SKIP LOCKED and delete it).
/// With --rate R --seconds S it offers R chains per second for S seconds instead (open loop: starts do not wait for
/// completions) and prints activity and chain latencies at that load. Before the timed part the same chains run
/// untimed for --warmup S seconds (15 by default; the host's JIT takes about that long to settle) and are deleted.
/// </summary>
static class OrchestrationBench
{
    const int Workers = 16;

    public static async Task RunAsync(string[] args)
    {
        var rate = Args.Int(args, "--rate", 0);
        var seconds = Args.Int(args, "--seconds", 10);
        var instances = rate > 0 ? rate * seconds : Args.Int(args, "--instances", 1_000);
        await using var scratch = await ScratchDatabase.CreateAsync(keep: args.Contains("--keep"));
        Console.WriteLine(rate > 0
            ? $"cdp bench orchestrations: {rate:N0} chains/s offered for {seconds} s ({instances:N0} x 3 activities), {Environment.ProcessorCount} cores, database {scratch.Name}"
            : $"cdp bench orchestrations: {instances:N0} instances x 3 activities, {Environment.ProcessorCount} cores, database {scratch.Name}");

        var baseline = await RawQueueAsync(scratch.DataSource, instances * 3);
        Report.Line("baseline: raw queue hop (SKIP LOCKED claim + delete)", baseline);

        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSingleton(scratch.DataSource);
        builder.Services.AddLocalOrchestrations();
        builder.Services.AddOrchestrator<BenchChain>();
        builder.Services.AddActivity<BenchStep>();
        using var host = builder.Build();
        await host.StartAsync();
        var client = host.Services.GetRequiredService<IOrchestrationClient>();
        await WarmUpAsync(client, scratch.DataSource, TimeSpan.FromSeconds(Args.Int(args, "--warmup", 15)));

        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        if (rate > 0) await OfferAsync(client, rate, instances, clock);
        else
            await Parallel.ForEachAsync(Enumerable.Range(0, instances), new ParallelOptions { MaxDegreeOfParallelism = Workers },
                async (i, _) => await client.StartAsync(nameof(BenchChain), i, $"bench-{i}"));
        await Eventually.Until(async () => await CountAsync(scratch.DataSource,
            "select count(*) from orchestration_instance where status in ('Completed', 'Failed', 'Terminated')") == instances, TimeSpan.FromMinutes(30));
        var elapsed = clock.Elapsed;
        cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu;
        var failed = await CountAsync(scratch.DataSource, "select count(*) from orchestration_instance where status <> 'Completed'");
        await host.StopAsync();

        var latencies = await ActivityLatenciesAsync(scratch.DataSource);
        Console.WriteLine($"orchestrations (3-activity chain) : {instances / elapsed.TotalSeconds,10:N0} /s   ({instances:N0} in {elapsed.TotalSeconds:N1} s, {failed} not completed)");
        Report.Line("activity: scheduled -> result recorded", new Figures(latencies.Count, elapsed,
            Report.Percentile(latencies, 0.5), Report.Percentile(latencies, 0.99)));
        // Where the time goes: the wait for an instance's first episode, and how many results each transaction records
        // (history rows of one transaction share its created_at).
        var firstEpisode = await LatenciesAsync(scratch.DataSource, """
            select extract(epoch from s.created_at - b.created_at) * 1000
            from orchestration_history b join orchestration_history s on s.instance_id = b.instance_id and s.kind = 'ActivityScheduled' and s.seq = 0
            where b.kind = 'Started' order by 1
            """);
        Report.Line("first episode: started -> scheduled", new Figures(firstEpisode.Count, elapsed,
            Report.Percentile(firstEpisode, 0.5), Report.Percentile(firstEpisode, 0.99)));
        var perTransaction = (double)(await CountAsync(scratch.DataSource, "select count(*) from orchestration_history where kind = 'ActivityCompleted'"))
            / Math.Max(1, await CountAsync(scratch.DataSource, "select count(distinct created_at) from orchestration_history where kind = 'ActivityCompleted'"));
        Console.WriteLine($"activity results recorded per transaction: {perTransaction:N1}");
        // Less disturbed by other work on the machine than the rates (Postgres's share is not in it).
        Console.WriteLine($"bench process CPU (engine + client) per activity: {cpu.TotalMilliseconds / Math.Max(1, latencies.Count):N3} ms");
        if (rate > 0)
        {
            var chains = await LatenciesAsync(scratch.DataSource,
                "select extract(epoch from completed_at - created_at) * 1000 from orchestration_instance where status = 'Completed' order by 1");
            Report.Line("chain: started -> completed", new Figures(chains.Count, elapsed, Report.Percentile(chains, 0.5), Report.Percentile(chains, 0.99)));
        }
        Console.WriteLine($"ratio activities/s / baseline hops/s: {latencies.Count / elapsed.TotalSeconds / baseline.PerSecond:P0}");
    }

    /// <summary>Runs waves of chains until <paramref name="length"/> has passed (untimed: the JIT warms up on them), then deletes them.</summary>
    static async Task WarmUpAsync(IOrchestrationClient client, NpgsqlDataSource db, TimeSpan length)
    {
        if (length <= TimeSpan.Zero) return;
        var clock = Stopwatch.StartNew();
        var started = 0;
        while (clock.Elapsed < length)
        {
            var wave = Enumerable.Range(started, 200).ToList();
            started += wave.Count;
            await Parallel.ForEachAsync(wave, new ParallelOptions { MaxDegreeOfParallelism = Workers },
                async (i, _) => await client.StartAsync(nameof(BenchChain), i, $"warmup-{i}"));
            await Eventually.Until(async () => await CountAsync(db,
                "select count(*) from orchestration_instance where instance_id like 'warmup-%' and status not in ('Completed', 'Failed', 'Terminated')") == 0,
                TimeSpan.FromMinutes(5));
        }
        await using (var purge = db.CreateCommand("delete from orchestration_instance where instance_id like 'warmup-%'")) await purge.ExecuteNonQueryAsync();
        Console.WriteLine($"warm-up (untimed, deleted): {started:N0} chains in {clock.Elapsed.TotalSeconds:N1} s");
    }

    /// <summary>Starts chain i at i/rate seconds after the clock started, without waiting for earlier starts (an open loop).</summary>
    static async Task OfferAsync(IOrchestrationClient client, int rate, int instances, Stopwatch clock)
    {
        var starts = new List<Task>(instances);
        for (var i = 0; i < instances; i++)
        {
            var due = TimeSpan.FromSeconds((double)i / rate) - clock.Elapsed;
            if (due > TimeSpan.FromMilliseconds(1)) await Task.Delay(due);
            var n = i;
            starts.Add(Task.Run(() => client.StartAsync(nameof(BenchChain), n, $"bench-{n}")));
        }
        await Task.WhenAll(starts);
        var late = clock.Elapsed.TotalSeconds - (double)instances / rate;
        if (late > 0.5) Console.WriteLine($"(starts fell {late:N1} s behind the offered rate: the machine could not offer it)");
    }

    static async Task<Figures> RawQueueAsync(NpgsqlDataSource db, int count)
    {
        await db.CreateCommand("create table bench_queue (id bigint generated always as identity primary key, payload jsonb not null)").ExecuteNonQueryAsync();
        await using (var fill = db.CreateCommand("insert into bench_queue (payload) select jsonb_build_object('n', n) from generate_series(1, $1) n"))
        {
            fill.Parameters.AddWithValue(count);
            await fill.ExecuteNonQueryAsync();
        }
        var latencies = new double[count];
        var next = -1;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, Workers).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) is var i && i < count)
            {
                var t = Stopwatch.GetTimestamp();
                await using var claim = db.CreateCommand(
                    "delete from bench_queue where id = (select id from bench_queue order by id for update skip locked limit 1) returning payload");
                await claim.ExecuteScalarAsync();
                latencies[i] = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
            }
        }));
        var elapsed = clock.Elapsed;
        await db.CreateCommand("drop table bench_queue").ExecuteNonQueryAsync();
        var sorted = latencies.Order().ToList();
        return new Figures(count, elapsed, Report.Percentile(sorted, 0.5), Report.Percentile(sorted, 0.99));
    }

    static Task<List<double>> ActivityLatenciesAsync(NpgsqlDataSource db) => LatenciesAsync(db, """
        select extract(epoch from d.created_at - s.created_at) * 1000
        from orchestration_history s
        join orchestration_history d on d.instance_id = s.instance_id and d.seq = s.seq and d.kind = 'ActivityCompleted'
        where s.kind = 'ActivityScheduled'
        order by 1
        """);

    static async Task<List<double>> LatenciesAsync(NpgsqlDataSource db, string sql)
    {
        var latencies = new List<double>();
        await using var cmd = db.CreateCommand(sql);
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync()) latencies.Add((double)reader.GetDecimal(0));
        return latencies;
    }

    static async Task<long> CountAsync(NpgsqlDataSource db, string sql) => (long)(await db.CreateCommand(sql).ExecuteScalarAsync())!;

    sealed class BenchChain : Orchestrator<int, int>
    {
        public override async Task<int> RunAsync(IOrchestrationContext context, int input)
        {
            var value = await context.CallActivityAsync<int>(nameof(BenchStep), input);
            value = await context.CallActivityAsync<int>(nameof(BenchStep), value);
            return await context.CallActivityAsync<int>(nameof(BenchStep), value);
        }
    }

    sealed class BenchStep : Activity<int, int>
    {
        public override Task<int> RunAsync(int input, CancellationToken cancellationToken) => Task.FromResult(input + 1);
    }
}
