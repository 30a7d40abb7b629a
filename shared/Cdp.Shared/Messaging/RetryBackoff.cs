namespace Cdp.Shared.Messaging;

/// <summary>Retry bookkeeping for a failed message: pure, so it is tested without a database.</summary>
public static class RetryBackoff
{
    /// <summary>
    /// Delay before attempt <paramref name="failedAttempts"/> + 1: base·2^(n-1) capped at max, with "equal jitter"
    /// (half fixed, half random) so failing keys do not retry in lockstep yet never retry sooner than half the step.
    /// </summary>
    public static TimeSpan Delay(int failedAttempts, TimeSpan baseDelay, TimeSpan maxDelay, double random01)
    {
        var exponent = Math.Clamp(failedAttempts - 1, 0, 30);
        var step = Math.Min(baseDelay.TotalMilliseconds * Math.Pow(2, exponent), maxDelay.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(step / 2 + step / 2 * Math.Clamp(random01, 0, 1));
    }

    /// <summary>What is stored as last_error: the exception type and message, bounded.</summary>
    public static string Describe(Exception error, int maxLength = 2000)
    {
        var text = $"{error.GetType().FullName}: {error.Message}";
        return text.Length <= maxLength ? text : text[..maxLength];
    }
}
