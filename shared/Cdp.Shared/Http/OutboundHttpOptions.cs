namespace Cdp.Shared.Http;

/// <summary>
/// How hard an outbound HTTP client tries before giving up. One instance per downstream (WeCom, alert robot, CRM),
/// bindable from configuration so operations can tune a single dependency without a deploy.
/// </summary>
public sealed class OutboundHttpOptions
{
    /// <summary>Limit for one attempt; a slower answer counts as a failure and is retried.</summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>Retries after the first attempt (so 2 means up to 3 attempts).</summary>
    public int MaxRetries { get; set; } = 2;

    /// <summary>Base of the exponential backoff; jitter is added so callers do not retry in lockstep.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Share of failed attempts in the sampling window that opens the circuit.</summary>
    public double FailureRatio { get; set; } = 0.5;

    public TimeSpan SamplingDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Attempts needed in the window before the ratio is trusted (Polly's minimum is 2).</summary>
    public int MinimumThroughput { get; set; } = 10;

    /// <summary>How long an open circuit fails fast before letting a probe through.</summary>
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(15);
}
