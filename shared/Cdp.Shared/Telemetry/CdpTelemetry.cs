using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Cdp.Shared.Telemetry;

/// <summary>
/// The platform's one <see cref="ActivitySource"/> and one <see cref="Meter"/>, both named "Cdp", and every instrument
/// on it (README "Observability" lists them). Instruments cost next to nothing while nobody listens
/// (<c>Observability:Enabled=false</c>), so the code records unconditionally.
/// </summary>
public static class CdpTelemetry
{
    public const string Name = "Cdp";

    public static readonly ActivitySource Source = new(Name);
    public static readonly Meter Meter = new(Name);

    /// <summary>Pushes a channel's webhook stored (answered 202), by channel.</summary>
    public static readonly Counter<long> Ingested = Meter.CreateCounter<long>("cdp.ingestion.ingested", "{record}", "Channel pushes stored and queued");
    /// <summary>Records that passed cleansing and went on to identity resolution, by channel.</summary>
    public static readonly Counter<long> Accepted = Meter.CreateCounter<long>("cdp.ingestion.accepted", "{record}", "Records cleansed and handed to identity resolution");
    /// <summary>Records cleansing refused (the receipt says why), by channel.</summary>
    public static readonly Counter<long> Rejected = Meter.CreateCounter<long>("cdp.ingestion.rejected", "{record}", "Records refused by cleansing");
    /// <summary>Records whose processing gave up (dead-lettered), by channel and stage.</summary>
    public static readonly Counter<long> Failed = Meter.CreateCounter<long>("cdp.ingestion.failed", "{record}", "Records dead-lettered during processing");

    /// <summary>Identity resolutions by rule set (lead, contact, account) and outcome (created, merged, review).</summary>
    public static readonly Counter<long> IdentityOutcomes = Meter.CreateCounter<long>("cdp.identity.outcomes", "{record}", "Identity resolution outcomes");

    /// <summary>Seconds from a summary-calculation message's publish to its summary being computed.</summary>
    public static readonly Histogram<double> SummaryLag = Meter.CreateHistogram<double>("cdp.summary.lag", "s", "Publish-to-computed delay of summary recalculations");

    /// <summary>Customer 360 view latency in seconds, tagged cached=true|false.</summary>
    public static readonly Histogram<double> ViewLatency = Meter.CreateHistogram<double>("cdp.customer360.duration", "s", "Customer 360 view latency");
    public static readonly Counter<long> CacheHits = Meter.CreateCounter<long>("cdp.cache.hits", "{request}", "Customer views served from Redis");
    public static readonly Counter<long> CacheMisses = Meter.CreateCounter<long>("cdp.cache.misses", "{request}", "Customer views built from the databases");

    /// <summary>Orchestrations started / completed / failed, by orchestrator name.</summary>
    public static readonly Counter<long> Orchestrations = Meter.CreateCounter<long>("cdp.orchestrations", "{instance}", "Orchestrations by status");

    /// <summary>Sidebar sync pushes by target and outcome (succeeded, retrying, rejected, skipped).</summary>
    public static readonly Counter<long> SyncOutcomes = Meter.CreateCounter<long>("cdp.sync.outcomes", "{attempt}", "Sync push attempts by outcome");

    /// <summary>WeCom answers with a non-zero errcode, by api and errcode.</summary>
    public static readonly Counter<long> WeComErrors = Meter.CreateCounter<long>("cdp.wecom.api_errors", "{call}", "WeCom API calls answered with an errcode");

    /// <summary>
    /// The current span as a W3C traceparent, to carry across a queue or an orchestration input; null when nothing is
    /// traced (telemetry off), so the disabled path stores nothing.
    /// </summary>
    public static string? CurrentTraceParent =>
        Source.HasListeners() && Activity.Current is { IdFormat: ActivityIdFormat.W3C } current ? current.Id : null;

    /// <summary>
    /// A span continuing the trace a message or an input carried (<paramref name="traceParent"/>, W3C); a root span when
    /// it carried none or an unreadable one. Null when nobody listens.
    /// </summary>
    public static Activity? StartFrom(string name, ActivityKind kind, string? traceParent)
    {
        if (!Source.HasListeners()) return null;
        return traceParent is not null && ActivityContext.TryParse(traceParent, null, isRemote: true, out var parent)
            ? Source.StartActivity(name, kind, parent)
            : Source.StartActivity(name, kind);
    }

    /// <summary>A child span of the current one (null when nobody listens).</summary>
    public static Activity? Start(string name, ActivityKind kind = ActivityKind.Internal) => Source.StartActivity(name, kind);

    /// <summary>Marks a span failed with the exception's type (never its message: messages can hold personal data).</summary>
    public static void Fail(this Activity? span, Exception error)
    {
        if (span is null) return;
        span.SetStatus(ActivityStatusCode.Error, error.GetType().Name);
        span.SetTag("error.type", error.GetType().FullName);
    }

    /// <summary>The W3C trace id of the current span (32 hex digits), or null without one.</summary>
    public static string? CurrentTraceId =>
        Activity.Current is { IdFormat: ActivityIdFormat.W3C } current ? current.TraceId.ToHexString() : null;
}

/// <summary>An orchestration or activity input that carries the trace of whoever started it (a W3C traceparent).</summary>
public interface ITraceCarrier
{
    string? TraceParent { get; }
}
