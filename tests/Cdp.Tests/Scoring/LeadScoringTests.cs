using Cdp.Shared.Scoring;

namespace Cdp.Tests.Scoring;

public sealed class LeadScoringTests
{
    static readonly DateTimeOffset Now = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);

    static LeadFacts Empty(string? channel = null) =>
        new(false, false, false, false, false, false, channel, 0, 0, 0, 0, null, Now);

    [Fact]
    public void A_bare_anonymous_lead_is_a_D_with_each_reason_explained()
    {
        var score = LeadScoring.Score(Empty("sdk"));

        Assert.Equal((8, "D"), (score.Score, score.Grade));
        Assert.Equal([("channel", 8, "source channel sdk"), ("recency", 0, "no activity yet")],
            score.Reasons.Select(r => (r.Factor, r.Points, r.Detail)));
    }

    [Fact]
    public void A_complete_engaged_recent_crm_lead_is_an_A()
    {
        var facts = new LeadFacts(true, true, true, true, true, true, "crm",
            TouchpointsLast7Days: 4, TouchpointsLast30Days: 6, FormsLast7Days: 2, FormsLast30Days: 3, LastActivityAt: Now.AddDays(-1), Now);

        var score = LeadScoring.Score(facts);

        // profile 25 + channel 20 + forms 20 (2 in 7 days) + 5 (1 more in 30) + other touchpoints 2*3 + 1 = 7 + recency 15
        Assert.Equal(92, score.Score);
        Assert.Equal("A", score.Grade);
        Assert.Equal(25, score.Reasons.Where(r => r.Factor == "profile").Sum(r => r.Points));
        Assert.Contains(score.Reasons, r => r is { Factor: "engagement", Points: 20, Detail: "2 form submission(s) in 7 days" });
        Assert.Contains(score.Reasons, r => r is { Factor: "engagement", Points: 7, Detail: "2 other touchpoint(s) in 7 days, 1 8-30 days ago" });
        Assert.Contains(score.Reasons, r => r is { Factor: "recency", Points: 15 });
        Assert.Equal(score.Score, score.Reasons.Sum(r => r.Points));
    }

    [Fact]
    public void Engagement_is_capped_and_the_total_never_exceeds_100()
    {
        var facts = new LeadFacts(true, true, true, true, true, true, "crm", 100, 200, 50, 80, Now, Now);
        var score = LeadScoring.Score(facts);
        Assert.Equal(100, score.Score);
        Assert.Equal(40, score.Reasons.Where(r => r.Factor == "engagement").Sum(r => r.Points));
    }

    [Theory]
    [InlineData(3, 15)]
    [InlineData(20, 10)]
    [InlineData(60, 5)]
    [InlineData(120, 0)]
    public void Recency_decays_with_the_days_since_the_last_activity(int daysAgo, int points)
    {
        var score = LeadScoring.Score(Empty("crm") with { LastActivityAt = Now.AddDays(-daysAgo) });
        Assert.Equal(points, score.Reasons.Single(r => r.Factor == "recency").Points);
    }

    [Theory]
    [InlineData("crm", 20)]
    [InlineData("wecom", 18)]
    [InlineData("wechat", 12)]
    [InlineData("erp", 10)]
    [InlineData("sdk", 8)]
    [InlineData(null, 5)]
    public void Source_channel_points(string? channel, int points) =>
        Assert.Equal(points, LeadScoring.Score(Empty(channel)).Reasons.Single(r => r.Factor == "channel").Points);

    [Theory]
    [InlineData(75, "A")]
    [InlineData(74, "B")]
    [InlineData(50, "B")]
    [InlineData(49, "C")]
    [InlineData(25, "C")]
    [InlineData(24, "D")]
    public void Grades(int score, string grade) => Assert.Equal(grade, LeadScoring.Grade(score));
}
