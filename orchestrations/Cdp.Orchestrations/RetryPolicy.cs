namespace Cdp.Orchestrations;

/// <summary>
/// Durable's retry policy: <see cref="MaxNumberOfAttempts"/> counts the first try, so "5 retries" is 6 attempts.
/// The wait before attempt n (n ≥ 2) is FirstRetryInterval · BackoffCoefficient^(n-2), capped at MaxRetryInterval.
/// </summary>
public sealed record RetryPolicy
{
    public RetryPolicy(int MaxNumberOfAttempts, TimeSpan FirstRetryInterval, double BackoffCoefficient = 1.0, TimeSpan? MaxRetryInterval = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxNumberOfAttempts, 1);
        if (FirstRetryInterval <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(FirstRetryInterval), FirstRetryInterval, "The first retry interval must be greater than zero.");
        if (!(BackoffCoefficient >= 1.0))
            throw new ArgumentOutOfRangeException(nameof(BackoffCoefficient), BackoffCoefficient, "The backoff coefficient must be at least 1.0.");
        if (MaxRetryInterval is { } max && max < FirstRetryInterval)
            throw new ArgumentOutOfRangeException(nameof(MaxRetryInterval), max, "The max retry interval must not be less than the first retry interval.");
        this.MaxNumberOfAttempts = MaxNumberOfAttempts;
        this.FirstRetryInterval = FirstRetryInterval;
        this.BackoffCoefficient = BackoffCoefficient;
        this.MaxRetryInterval = MaxRetryInterval;
    }

    public int MaxNumberOfAttempts { get; }
    public TimeSpan FirstRetryInterval { get; }
    public double BackoffCoefficient { get; }
    public TimeSpan? MaxRetryInterval { get; }

    /// <summary>
    /// How long to wait before attempt <paramref name="attemptNumber"/> (1-based): null for the first attempt (no wait)
    /// and for any attempt past <see cref="MaxNumberOfAttempts"/> (no more attempts).
    /// </summary>
    public TimeSpan? DelayBeforeAttempt(int attemptNumber)
    {
        if (attemptNumber <= 1 || attemptNumber > MaxNumberOfAttempts) return null;
        var ms = FirstRetryInterval.TotalMilliseconds * Math.Pow(BackoffCoefficient, attemptNumber - 2);
        var cap = (MaxRetryInterval ?? TimeSpan.MaxValue).TotalMilliseconds;
        // Pow overflows to infinity long before TimeSpan does; clamp before converting.
        return TimeSpan.FromMilliseconds(Math.Min(Math.Min(ms, cap), TimeSpan.FromDays(365).TotalMilliseconds));
    }
}
