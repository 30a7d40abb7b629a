using Cdp.Shared.Messaging;

namespace Cdp.Tests.Messaging;

public sealed class RetryBackoffTests
{
    static readonly TimeSpan Base = TimeSpan.FromSeconds(1);
    static readonly TimeSpan Max = TimeSpan.FromMinutes(5);

    [Theory]
    [InlineData(1, 500, 1000)]
    [InlineData(2, 1000, 2000)]
    [InlineData(4, 4000, 8000)]
    [InlineData(12, 150_000, 300_000)] // capped at the max delay
    [InlineData(100, 150_000, 300_000)]
    public void Delay_doubles_per_attempt_with_jitter_within_half_a_step(int failedAttempts, double minMs, double maxMs)
    {
        Assert.Equal(minMs, RetryBackoff.Delay(failedAttempts, Base, Max, 0).TotalMilliseconds, 3);
        Assert.Equal(maxMs, RetryBackoff.Delay(failedAttempts, Base, Max, 1).TotalMilliseconds, 3);
        var mid = RetryBackoff.Delay(failedAttempts, Base, Max, 0.5).TotalMilliseconds;
        Assert.InRange(mid, minMs, maxMs);
    }

    [Fact]
    public void Last_error_names_the_exception_type_and_is_bounded()
    {
        var text = RetryBackoff.Describe(new InvalidOperationException(new string('x', 5000)), 100);
        Assert.StartsWith("System.InvalidOperationException: xxx", text);
        Assert.Equal(100, text.Length);
    }
}
