using System.Globalization;
using Cdp.Shared.Operations.Alerts;
using Dapper;
using Npgsql;

namespace Cdp.Shared.Operations.Overview;

/// <summary>
/// GET /api/ops/overview: per-minute series over the last 24 h, each a list of <c>[minuteIso, value]</c> points in time
/// order (minutes without data are absent: zero for counts, no sample for the rest), from stored data only.
/// </summary>
public sealed record OpsOverviewView(
    DateTimeOffset From, DateTimeOffset To, int StepSeconds,
    OpsSeries Series, long OpenReviews, FailedSyncs FailedSyncs, long DeadLetters, IReadOnlyList<AlertView> OpenAlerts);

public sealed record OpsSeries(
    IReadOnlyDictionary<string, List<object[]>> Ingested,
    IReadOnlyDictionary<string, List<object[]>> Failed,
    IReadOnlyDictionary<string, List<object[]>> Resolved,
    IReadOnlyDictionary<string, List<object[]>> Backlog,
    IReadOnlyDictionary<string, List<object[]>> SummaryLagMs,
    IReadOnlyDictionary<string, List<object[]>> ViewLatencyMs,
    IReadOnlyDictionary<string, List<object[]>> ViewCache);

public sealed record FailedSyncs(long LastHour, long Last24Hours);

public sealed class OpsOverview(NpgsqlDataSource db, AlertHistory alerts)
{
    public static readonly TimeSpan Span = TimeSpan.FromHours(24);

    public async Task<OpsOverviewView> GetAsync(CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var to = await conn.ExecuteScalarAsync<DateTime>(new CommandDefinition("select now()", cancellationToken: ct));
        var from = Floor(to - Span);
        var args = new { from };

        async Task<Dictionary<string, List<object[]>>> Counts(string sql) =>
            Group((await conn.QueryAsync<(string Key, DateTime Minute, long Count)>(new CommandDefinition(sql, args, cancellationToken: ct)))
                .Select(r => (r.Key, r.Minute, (double)r.Count)));

        var ingested = await Counts("""
            select channel, date_trunc('minute', received_at), count(*) from ingestion_receipt
            where received_at >= @from group by 1, 2 order by 2
            """);
        var failed = await Counts("""
            select channel, date_trunc('minute', coalesce(processed_at, received_at)), count(*) from ingestion_receipt
            where received_at >= @from - interval '1 hour' and coalesce(processed_at, received_at) >= @from and status = 'failed'
            group by 1, 2 order by 2
            """);
        var resolved = await Counts("""
            select channel, date_trunc('minute', processed_at), count(*) from ingestion_receipt
            where received_at >= @from - interval '1 hour' and processed_at >= @from and status = 'processed'
            group by 1, 2 order by 2
            """);

        var minutes = (await conn.QueryAsync<MinuteRow>(new CommandDefinition("""
            select metric as Metric, dimension as Dimension, minute as Minute, count as Count, sum as Sum, max as Max, buckets as Buckets
            from ops_minute where minute >= @from order by minute
            """, args, cancellationToken: ct))).ToList();
        var backlog = Group(minutes.Where(m => m.Metric == OpsMetrics.Backlog)
            .Select(m => (m.Dimension, m.Minute, m.Count == 0 ? 0 : Math.Round(m.Sum / m.Count, 1))));
        var viewCache = Group(minutes.Where(m => m.Metric == OpsMetrics.ViewCache).Select(m => (m.Dimension, m.Minute, (double)m.Count)));

        var (openReviews, lastHour, last24Hours, dead) = await conn.QuerySingleAsync<(long, long, long, long)>(new CommandDefinition("""
            select (select count(*) from identity_review where status = 'open'),
                   (select count(*) from sync_task where status = 'failed' and updated_at > now() - interval '1 hour'),
                   (select count(*) from sync_task where status = 'failed' and updated_at > now() - interval '24 hours'),
                   (select count(*) from topic_message where status = 'dead')
            """, cancellationToken: ct));

        return new OpsOverviewView(DbTimeUtc(from), DbTimeUtc(to), 60,
            new OpsSeries(ingested, failed, resolved, backlog, Quantiles(minutes, OpsMetrics.SummaryLag), Quantiles(minutes, OpsMetrics.ViewLatency), viewCache),
            openReviews, new FailedSyncs(lastHour, last24Hours), dead, await alerts.ListAsync(AlertHistory.Open, 100, ct));
    }

    /// <summary>p50 and p99 per minute of a histogram metric, over all its dimensions.</summary>
    static Dictionary<string, List<object[]>> Quantiles(List<MinuteRow> minutes, string metric)
    {
        var byMinute = minutes.Where(m => m.Metric == metric).GroupBy(m => m.Minute).OrderBy(g => g.Key).ToList();
        var series = new Dictionary<string, List<object[]>> { ["p50"] = [], ["p99"] = [] };
        foreach (var minute in byMinute)
        {
            var merged = OpsHistogram.Merge(minute.Select(m => m.Buckets));
            var max = minute.Max(m => m.Max);
            if (OpsHistogram.Quantile(merged, max, 0.5) is { } p50) series["p50"].Add([Iso(minute.Key), Math.Round(p50, 1)]);
            if (OpsHistogram.Quantile(merged, max, 0.99) is { } p99) series["p99"].Add([Iso(minute.Key), Math.Round(p99, 1)]);
        }
        return series;
    }

    static Dictionary<string, List<object[]>> Group(IEnumerable<(string Key, DateTime Minute, double Value)> rows)
    {
        var series = new Dictionary<string, List<object[]>>();
        foreach (var (key, minute, value) in rows.OrderBy(r => r.Minute))
        {
            if (!series.TryGetValue(key, out var points)) series[key] = points = [];
            points.Add([Iso(minute), value]);
        }
        return series;
    }

    static string Iso(DateTime minute) => DateTime.SpecifyKind(minute, DateTimeKind.Utc).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    static DateTime Floor(DateTime at) => new(at.Ticks - at.Ticks % TimeSpan.TicksPerMinute, DateTimeKind.Utc);

    static DateTimeOffset DbTimeUtc(DateTime at) => Storage.DbTime.Utc(at);

    sealed class MinuteRow
    {
        public string Metric { get; set; } = "";
        public string Dimension { get; set; } = "";
        public DateTime Minute { get; set; }
        public long Count { get; set; }
        public double Sum { get; set; }
        public double Max { get; set; }
        public long[] Buckets { get; set; } = [];
    }
}
