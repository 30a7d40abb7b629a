using Cdp.Shared.Http;

namespace Cdp.Shared.Sync;

/// <summary>Bound from the <c>Sync</c> section; <c>Sync:MaxRetries</c> and <c>Sync:FirstRetryInterval</c> are contract names (API.md).</summary>
public sealed class SyncOptions
{
    public const string Section = "Sync";

    /// <summary>Retries after the first push, so the default 5 means up to 6 attempts.</summary>
    public int MaxRetries { get; set; } = 5;

    public TimeSpan FirstRetryInterval { get; set; } = TimeSpan.FromSeconds(5);

    public double BackoffCoefficient { get; set; } = 2.0;

    public TimeSpan MaxRetryInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>One push may take this long; a slower one is cancelled and counts as a failed attempt.</summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Alerts posted to the ops robot per rolling minute, across hosts; the rest are summarised in the next one.</summary>
    public int AlertsPerMinute { get; set; } = 10;

    /// <summary>Resilience of the alert robot client (section <c>Sync:AlertHttp</c>).</summary>
    public OutboundHttpOptions AlertHttp { get; set; } = new();

    public FinanceSyncOptions Finance { get; set; } = new();

    /// <summary>
    /// The WeCom corp tag group the platform owns: tags saved here map to tags of this group (created when missing),
    /// and a push adds or removes tags of this group only, never those other systems or people manage.
    /// </summary>
    public string TagGroupName { get; set; } = "CDP";

    public IEnumerable<string> Errors()
    {
        if (MaxRetries is < 0 or > 50) yield return "Sync:MaxRetries must be between 0 and 50";
        if (FirstRetryInterval <= TimeSpan.Zero) yield return "Sync:FirstRetryInterval must be positive";
        if (!(BackoffCoefficient >= 1.0)) yield return "Sync:BackoffCoefficient must be at least 1";
        if (MaxRetryInterval < FirstRetryInterval) yield return "Sync:MaxRetryInterval must not be less than Sync:FirstRetryInterval";
        if (AttemptTimeout <= TimeSpan.Zero) yield return "Sync:AttemptTimeout must be positive";
        if (AlertsPerMinute < 1) yield return "Sync:AlertsPerMinute must be at least 1";
        if (string.IsNullOrWhiteSpace(TagGroupName) || TagGroupName.Length > 30) yield return "Sync:TagGroupName must be 1 to 30 characters";
        if (Finance.BaseUrl is { Length: > 0 } url && !Uri.TryCreate(url, UriKind.Absolute, out _)) yield return "Sync:Finance:BaseUrl must be an absolute URL";
    }

    /// <summary>The retry schedule a run is started with (captured in the orchestration's input, so replays agree).</summary>
    public SyncRetrySchedule Schedule() =>
        new(1 + MaxRetries, FirstRetryInterval, BackoffCoefficient, MaxRetryInterval);
}

/// <summary>The external finance/CRM system that receives changes of target <c>finance</c>.</summary>
public sealed class FinanceSyncOptions
{
    /// <summary>Changes are POSTed to {BaseUrl}/changes; unset means finance tasks fail with a clear error.</summary>
    public string? BaseUrl { get; set; }

    public OutboundHttpOptions Http { get; set; } = new();
}

/// <summary>Durable-style retry numbers: <see cref="MaxAttempts"/> counts the first try.</summary>
public sealed record SyncRetrySchedule(int MaxAttempts, TimeSpan FirstRetryInterval, double BackoffCoefficient, TimeSpan MaxRetryInterval)
{
    /// <summary>The wait before attempt <paramref name="attempt"/> (1-based); null for the first and past the last.</summary>
    public TimeSpan? DelayBefore(int attempt)
    {
        if (attempt <= 1 || attempt > MaxAttempts) return null;
        var ms = FirstRetryInterval.TotalMilliseconds * Math.Pow(BackoffCoefficient, attempt - 2);
        return TimeSpan.FromMilliseconds(Math.Min(ms, MaxRetryInterval.TotalMilliseconds));
    }
}
