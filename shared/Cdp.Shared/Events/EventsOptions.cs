namespace Cdp.Shared.Events;

/// <summary>Bound from "Events".</summary>
public sealed class EventsOptions
{
    public const string Section = "Events";

    /// <summary>1000 events of ~1 KB each fit with room to spare; more is a mistake or an attack.</summary>
    public int MaxBodyBytes { get; set; } = 2 * 1024 * 1024;

    public int MaxEventsPerRequest { get; set; } = 1000;

    /// <summary>
    /// Most events the ClickHouse writer inserts with one INSERT (it takes whole messages, so one may carry it past by
    /// less than a request's events). ClickHouse and its materialized views want few large inserts.
    /// </summary>
    public int WriterBatchSize { get; set; } = 50_000;

    /// <summary>How long the writer keeps gathering a batch that is not full before inserting it.</summary>
    public TimeSpan WriterMaxWait { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Writers claiming and inserting side by side (claims skip each other's rows).</summary>
    public int WriterConcurrency { get; set; } = 1;

    /// <summary>Behaviour queries give up after this and the caller answers without them (partial).</summary>
    public TimeSpan QueryTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Behaviour-count queries one process runs at once; callers arriving meanwhile share the next query
    /// (<see cref="BehaviourQueries.CountsByTypeAsync"/>). One measured best (`./cdp bench views`, 16 readers, 2 cores):
    /// 0.13 queries per request and the lowest p99, against 0.24 at two and 0.40 at four, which only made ClickHouse
    /// run more small queries side by side.
    /// </summary>
    public int CountQueriesInFlight { get; set; } = 1;

    /// <summary>
    /// Requests a publishable key may make per <see cref="RateLimitWindow"/>, over all processes (Redis). A site's
    /// visitors share their site's key, so this is the site's whole traffic; 0 turns the limit off.
    /// </summary>
    public int RateLimitPerKey { get; set; } = 6000;

    /// <summary>Requests one client address (IPv6: its /64) may make with a publishable key per window; 0 turns it off.</summary>
    public int RateLimitPerIp { get; set; } = 300;

    public TimeSpan RateLimitWindow { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Shared with the website's backend, which gives a signed-in visitor identityToken = hex(HMAC-SHA256(SiteSecret,
    /// userId)). Only with it do a publishable-key caller's contactId/leadId/accountId count. Unset: they never do.
    /// </summary>
    public string? SiteSecret { get; set; }

    /// <summary>ClickHouse database; empty means the connection string's path, else "cdp".</summary>
    public string? Database { get; set; }

    public void Validate()
    {
        if (MaxBodyBytes < 1024 || MaxEventsPerRequest < 1 || WriterBatchSize < 1 || WriterConcurrency < 1
            || WriterMaxWait < TimeSpan.Zero || QueryTimeout <= TimeSpan.Zero || CountQueriesInFlight < 1
            || RateLimitPerKey < 0 || RateLimitPerIp < 0 || RateLimitWindow < TimeSpan.FromSeconds(1))
            throw new InvalidOperationException("Invalid Events options.");
        if (SiteSecret is { Length: > 0 } secret && System.Text.Encoding.UTF8.GetByteCount(secret) < 32)
            throw new InvalidOperationException("Events:SiteSecret must be at least 32 bytes.");
    }
}
