using Cdp.Orchestrations;

namespace Cdp.Tests.Orchestrations;

public sealed class RetryPolicyTests
{
    static readonly TimeSpan Second = TimeSpan.FromSeconds(1);

    [Fact]
    public void Attempts_include_the_first_try_which_has_no_delay()
    {
        var policy = new RetryPolicy(3, Second);
        Assert.Null(policy.DelayBeforeAttempt(1));
        Assert.Equal(Second, policy.DelayBeforeAttempt(2));
        Assert.Equal(Second, policy.DelayBeforeAttempt(3));
        Assert.Null(policy.DelayBeforeAttempt(4));
    }

    [Fact]
    public void Backoff_grows_by_the_coefficient_and_stops_at_the_max_interval()
    {
        var policy = new RetryPolicy(10, Second, BackoffCoefficient: 2, MaxRetryInterval: TimeSpan.FromSeconds(5));
        Assert.Equal([1, 2, 4, 5, 5], Enumerable.Range(2, 5).Select(n => policy.DelayBeforeAttempt(n)!.Value.TotalSeconds));
    }

    [Fact]
    public void A_huge_coefficient_does_not_overflow()
    {
        var policy = new RetryPolicy(500, Second, BackoffCoefficient: 10);
        Assert.True(policy.DelayBeforeAttempt(400) > TimeSpan.FromDays(1));
    }

    [Theory]
    [InlineData(0, 1000, 1.0)]
    [InlineData(-1, 1000, 1.0)]
    [InlineData(1, 0, 1.0)]
    [InlineData(1, -5, 1.0)]
    [InlineData(1, 1000, 0.5)]
    [InlineData(1, 1000, double.NaN)]
    public void Rejects_what_Durable_rejects(int attempts, int firstMs, double coefficient) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new RetryPolicy(attempts, TimeSpan.FromMilliseconds(firstMs), coefficient));

    [Fact]
    public void One_attempt_is_valid_and_never_retries() => Assert.Null(new RetryPolicy(1, Second).DelayBeforeAttempt(2));
}
