using System.Diagnostics.Metrics;
using Cdp.Shared.Messaging;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Cdp.Shared.Telemetry;

/// <summary>
/// Gauges read from stored data rather than one process's memory: backlog and dead letters per topic, the oldest
/// pending message's age, open identity reviews. Read at most every <see cref="TelemetryOptions.StoredGaugeInterval"/>
/// (a few indexed counts), so a scrape or an export never queries the database itself.
/// </summary>
public sealed class StoredGauges : BackgroundService
{
    // The instruments are static (one Meter per process) and read one host's figures: the host whose /metrics is being
    // scraped (set around its collection, which runs on the scraping thread), else the last live host that has read
    // them (a process normally runs one host; tests run several side by side).
    static readonly List<StoredGauges> live = [];
    static readonly AsyncLocal<StoredGauges?> scraping = new();

    static StoredGauges? Current
    {
        get
        {
            if (scraping.Value is { } scraped) return scraped;
            lock (live) return live.LastOrDefault(s => s.snapshot is not null);
        }
    }

    /// <summary>Until the returned scope is disposed, the gauges read this host's figures (the /metrics route wraps its collection in it).</summary>
    public IDisposable Scope()
    {
        var previous = scraping.Value;
        scraping.Value = this;
        return new Restore(previous);
    }

    sealed class Restore(StoredGauges? previous) : IDisposable
    {
        public void Dispose() => scraping.Value = previous;
    }

    static StoredGauges()
    {
        CdpTelemetry.Meter.CreateObservableGauge("cdp.topic.backlog", () => Measure(s => s.Topics.Select(t => (t.Pending, t.Topic))),
            "{message}", "Pending messages per topic");
        CdpTelemetry.Meter.CreateObservableGauge("cdp.topic.dead_letters", () => Measure(s => s.Topics.Select(t => (t.Dead, t.Topic))),
            "{message}", "Dead-lettered messages per topic");
        CdpTelemetry.Meter.CreateObservableGauge("cdp.topic.oldest_pending_age",
            () => (Current?.snapshot?.Topics ?? []).Select(t => new Measurement<double>(t.OldestPendingAge?.TotalSeconds ?? 0, new KeyValuePair<string, object?>("topic", t.Topic))),
            "s", "Age of the oldest pending message per topic");
        CdpTelemetry.Meter.CreateObservableGauge("cdp.identity.open_reviews",
            () => Current?.snapshot is { } s ? [new Measurement<long>(s.OpenReviews)] : Array.Empty<Measurement<long>>(),
            "{review}", "Identity reviews waiting for a person");
    }

    static IEnumerable<Measurement<long>> Measure(Func<Snapshot, IEnumerable<(long Value, string Topic)>> pick) =>
        Current?.snapshot is { } s ? pick(s).Select(v => new Measurement<long>(v.Value, new KeyValuePair<string, object?>("topic", v.Topic))) : [];

    sealed record Snapshot(IReadOnlyList<TopicStats> Topics, long OpenReviews, DateTimeOffset At);

    readonly NpgsqlDataSource db;
    readonly TimeSpan interval;
    readonly TimeProvider clock;
    readonly ILogger<StoredGauges> logger;
    readonly SemaphoreSlim refreshing = new(1, 1);
    volatile Snapshot? snapshot;

    public StoredGauges(NpgsqlDataSource db, IOptions<TelemetryOptions> options, TimeProvider clock, ILogger<StoredGauges> logger)
    {
        this.db = db;
        this.clock = clock;
        this.logger = logger;
        interval = options.Value.StoredGaugeInterval;
        lock (live) live.Add(this);
    }

    /// <summary>Reads the stored figures again when the last reading is older than the interval (the /metrics route calls it first).</summary>
    public async Task RefreshIfStaleAsync(CancellationToken ct)
    {
        if (snapshot is { } s && clock.GetUtcNow() - s.At < interval) return;
        await refreshing.WaitAsync(ct);
        try
        {
            if (snapshot is { } again && clock.GetUtcNow() - again.At < interval) return;
            var topics = await TopicAdmin.GetStatsAsync(db, ct);
            await using var cmd = db.CreateCommand("select count(*) from identity_review where status = 'open'");
            var reviews = (long)(await cmd.ExecuteScalarAsync(ct))!;
            snapshot = new Snapshot(topics, reviews, clock.GetUtcNow());
        }
        finally
        {
            refreshing.Release();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RefreshIfStaleAsync(stoppingToken);
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(e, "Telemetry: reading the stored gauges failed; they keep their last values");
            }
            try { await Task.Delay(interval, clock, stoppingToken); }
            catch (OperationCanceledException) { }
        }
    }

    public override void Dispose()
    {
        lock (live) live.Remove(this);
        refreshing.Dispose();
        base.Dispose();
    }
}
