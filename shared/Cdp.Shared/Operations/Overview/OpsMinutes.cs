using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Cdp.Shared.Operations.Overview;

/// <summary>The metrics the hosts write to ops_minute (what no stored row shows).</summary>
public static class OpsMetrics
{
    /// <summary>A 360 view's answer time in ms; dimension "cached" or "uncached".</summary>
    public const string ViewLatency = "view_latency";

    /// <summary>A 360 view served from the cache or not; dimension "hit" or "miss" (count only).</summary>
    public const string ViewCache = "view_cache";

    /// <summary>ms from a summary-calculation message's publication to its handling; no dimension.</summary>
    public const string SummaryLag = "summary_lag";

    /// <summary>Pending messages of a topic as sampled by the alert evaluation (avg = sum / count); dimension the topic.</summary>
    public const string Backlog = "backlog";
}

/// <summary>A compact latency histogram: counts per bucket, bucket i holding values up to <see cref="Bounds"/>[i] ms, the last the rest.</summary>
public static class OpsHistogram
{
    public static readonly double[] Bounds = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 300_000];

    public static int BucketOf(double value)
    {
        for (var i = 0; i < Bounds.Length; i++)
            if (value <= Bounds[i]) return i;
        return Bounds.Length;
    }

    /// <summary>The q-quantile (0..1): the upper bound of the bucket holding it, never above the largest value seen; null when empty.</summary>
    public static double? Quantile(IReadOnlyList<long> buckets, double max, double q)
    {
        var total = buckets.Sum();
        if (total == 0) return null;
        var rank = Math.Max(1, (long)Math.Ceiling(q * total));
        long seen = 0;
        for (var i = 0; i < buckets.Count; i++)
        {
            seen += buckets[i];
            if (seen >= rank) return Math.Min(i < Bounds.Length ? Bounds[i] : max, max);
        }
        return max;
    }

    public static long[] Merge(IEnumerable<long[]> histograms)
    {
        var merged = new long[Bounds.Length + 1];
        foreach (var h in histograms)
            for (var i = 0; i < Math.Min(h.Length, merged.Length); i++) merged[i] += h[i];
        return merged;
    }
}

/// <summary>
/// Per-minute aggregates in process (count, sum, max, histogram per metric and dimension), added into ops_minute by
/// <see cref="FlushAsync"/> every few seconds (<see cref="OpsBackground"/>): the series live in Postgres, never only here.
/// </summary>
public sealed class OpsRecorder(NpgsqlDataSource db, TimeProvider time, ILogger<OpsRecorder> logger)
{
    sealed class Cell
    {
        public long Count;
        public double Sum;
        public double Max;
        public readonly long[] Buckets = new long[OpsHistogram.Bounds.Length + 1];
    }

    readonly Lock gate = new();
    Dictionary<(DateTime Minute, string Metric, string Dimension), Cell> cells = [];

    public void Record(string metric, string dimension, double value)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var minute = new DateTime(now.Ticks - now.Ticks % TimeSpan.TicksPerMinute, DateTimeKind.Utc);
        lock (gate)
        {
            if (!cells.TryGetValue((minute, metric, dimension), out var cell)) cells[(minute, metric, dimension)] = cell = new Cell();
            cell.Count++;
            cell.Sum += value;
            cell.Max = Math.Max(cell.Max, value);
            cell.Buckets[OpsHistogram.BucketOf(value)]++;
        }
    }

    /// <summary>Adds what was recorded since the last flush into ops_minute; on failure keeps it for the next flush.</summary>
    public async Task FlushAsync(CancellationToken ct)
    {
        Dictionary<(DateTime Minute, string Metric, string Dimension), Cell> taken;
        lock (gate)
        {
            if (cells.Count == 0) return;
            taken = cells;
            cells = [];
        }
        try
        {
            await using var batch = db.CreateBatch();
            foreach (var ((minute, metric, dimension), cell) in taken)
                batch.BatchCommands.Add(Upsert(minute, metric, dimension, cell.Count, cell.Sum, cell.Max, cell.Buckets));
            await batch.ExecuteNonQueryAsync(ct);
        }
        catch (Exception e)
        {
            lock (gate)
            {
                foreach (var (key, cell) in taken)
                {
                    if (!cells.TryGetValue(key, out var into)) { cells[key] = cell; continue; }
                    into.Count += cell.Count;
                    into.Sum += cell.Sum;
                    into.Max = Math.Max(into.Max, cell.Max);
                    for (var i = 0; i < into.Buckets.Length; i++) into.Buckets[i] += cell.Buckets[i];
                }
            }
            if (e is OperationCanceledException) throw;
            logger.LogWarning(e, "Could not flush {Count} per-minute aggregate(s) to ops_minute; next flush tries again", taken.Count);
        }
    }

    /// <summary>Adds one aggregate into its minute's row (a gauge sample is count 1, sum the value).</summary>
    public static NpgsqlBatchCommand Upsert(DateTime minute, string metric, string dimension, long count, double sum, double max, long[] buckets)
    {
        var command = new NpgsqlBatchCommand("""
            insert into ops_minute (metric, dimension, minute, count, sum, max, buckets) values ($1, $2, $3, $4, $5, $6, $7)
            on conflict (metric, dimension, minute) do update set
                count = ops_minute.count + excluded.count,
                sum = ops_minute.sum + excluded.sum,
                max = greatest(ops_minute.max, excluded.max),
                buckets = (select coalesce(array_agg(coalesce(a, 0) + coalesce(b, 0) order by i), '{}')
                           from unnest(ops_minute.buckets, excluded.buckets) with ordinality as t(a, b, i))
            """);
        command.Parameters.Add(new() { Value = metric });
        command.Parameters.Add(new() { Value = dimension });
        command.Parameters.Add(new() { Value = minute, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new() { Value = count });
        command.Parameters.Add(new() { Value = sum });
        command.Parameters.Add(new() { Value = max });
        command.Parameters.Add(new() { Value = buckets, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
        return command;
    }
}

/// <summary>Section <c>Ops</c>.</summary>
public sealed class OpsOptions
{
    public const string Section = "Ops";

    /// <summary>How often a host adds its per-minute aggregates into ops_minute.</summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How often a host renews its ops_heartbeat row.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>Every host: flushes <see cref="OpsRecorder"/> and renews this host's heartbeat; marks it stopped on a clean stop.</summary>
public sealed class OpsBackground(
    OpsRecorder recorder, HostHeartbeat heartbeat, IOptions<OpsOptions> options, ILogger<OpsBackground> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        var lastBeat = DateTime.MinValue;
        using var timer = new PeriodicTimer(settings.FlushInterval);
        try
        {
            do
            {
                try
                {
                    if (DateTime.UtcNow - lastBeat >= settings.HeartbeatInterval)
                    {
                        await heartbeat.RenewAsync(stoppingToken);
                        lastBeat = DateTime.UtcNow;
                    }
                    await recorder.FlushAsync(stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.LogWarning(e, "Heartbeat or ops flush failed; next tick tries again");
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        try
        {
            await recorder.FlushAsync(cancellationToken);
            await heartbeat.StopAsync(cancellationToken);
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Could not flush ops aggregates or mark the heartbeat stopped on shutdown");
        }
    }
}

/// <summary>This host's row in ops_heartbeat.</summary>
public sealed class HostHeartbeat(NpgsqlDataSource db)
{
    public string HostId { get; } = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid().ToString("N")[..8]}";

    public async Task RenewAsync(CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            insert into ops_heartbeat (host_id) values ($1)
            on conflict (host_id) do update set renewed_at = now(), stopped_at = null
            """);
        cmd.Parameters.Add(new() { Value = HostId });
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public async Task StopAsync(CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("update ops_heartbeat set stopped_at = now() where host_id = $1");
        cmd.Parameters.Add(new() { Value = HostId });
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
