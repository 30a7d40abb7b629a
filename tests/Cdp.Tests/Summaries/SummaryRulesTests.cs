using Cdp.Shared.Summaries;

namespace Cdp.Tests.Summaries;

public sealed class SummaryRulesTests
{
    static readonly DateTimeOffset Now = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(0, 0, null)]
    [InlineData(2, 1, "0.6667")]
    [InlineData(3, 0, "1")]
    [InlineData(0, 4, "0")]
    public void Win_rate_is_won_over_closed_and_unknown_while_nothing_closed(int won, int lost, string? expected) =>
        Assert.Equal(expected is null ? null : decimal.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), SummaryRules.WinRate(won, lost));

    [Theory]
    [InlineData(0, 100)]
    [InlineData(7, 100)]
    [InlineData(30, 70)]
    [InlineData(60, 50)]
    [InlineData(90, 30)]
    [InlineData(135, 15)]
    [InlineData(180, 0)]
    [InlineData(400, 0)]
    public void Health_follows_the_documented_recency_curve(int daysAgo, int expected) =>
        Assert.Equal(expected, SummaryRules.HealthScore(Now.AddDays(-daysAgo), Now));

    [Fact]
    public void No_activity_at_all_is_zero_health() => Assert.Equal(0, SummaryRules.HealthScore(null, Now));

    [Fact]
    public void Health_decreases_monotonically_with_age()
    {
        var scores = Enumerable.Range(0, 200).Select(d => SummaryRules.HealthScore(Now.AddDays(-d), Now)).ToList();
        Assert.True(scores.Zip(scores.Skip(1)).All(p => p.First >= p.Second));
    }

    [Fact]
    public void Engagement_weights_recent_touchpoints_and_forms_and_is_capped()
    {
        // 2 touchpoints in 30 days (20), 1 more in 31..90 (4), 1 form in 90 days (10).
        Assert.Equal(34, SummaryRules.EngagementScore(touchpointsLast30: 2, touchpointsLast90: 3, formsLast90: 1));
        Assert.Equal(0, SummaryRules.EngagementScore(0, 0, 0));
        Assert.Equal(100, SummaryRules.EngagementScore(20, 30, 5));
    }

    [Fact]
    public void Days_in_pipeline_run_to_conversion_or_now()
    {
        Assert.Equal(10, SummaryRules.DaysInPipeline(Now.AddDays(-10), null, Now));
        Assert.Equal(4, SummaryRules.DaysInPipeline(Now.AddDays(-10), Now.AddDays(-6), Now));
    }
}
