namespace Cdp.Shared.Scoring;

/// <summary>What a lead's score is computed from (read when its summary is recomputed).</summary>
public sealed record LeadFacts(
    bool HasName,
    bool HasCompany,
    bool HasMobile,
    bool HasEmail,
    bool HasTitle,
    bool HasCity,
    string? Channel,
    int TouchpointsLast7Days,
    int TouchpointsLast30Days,
    int FormsLast7Days,
    int FormsLast30Days,
    DateTimeOffset? LastActivityAt,
    DateTimeOffset Now);

/// <summary>One line of a score's explanation: which factor gave how many points, and why.</summary>
public sealed record ScoreReason(string Factor, int Points, string Detail);

public sealed record LeadScore(int Score, string Grade, IReadOnlyList<ScoreReason> Reasons);

/// <summary>
/// Lead scoring in one place. Four factors add up to at most 100:
/// <list type="bullet">
/// <item>profile completeness, up to 25: mobile 8, email 5, company 5, title 4, name 2, city 1 (a reachable,
/// identifiable person at a known company);</item>
/// <item>source channel, up to 20: crm 20 (entered by sales), wecom 18 (talked to staff), wechat 12 (followed the
/// official account), erp 10, sdk 8 (anonymous web/app), anything else 5;</item>
/// <item>engagement, up to 40: form submissions 10 each in the last 7 days (max 20), 5 each in days 8..30 (max 10);
/// other touchpoints 3 each in the last 7 days, 1 each in days 8..30 (together max 10);</item>
/// <item>recency, up to 15, decaying with the days since the last activity: within 7 days 15, 30 days 10,
/// 90 days 5, older or none 0.</item>
/// </list>
/// Grade: A from 75, B from 50, C from 25, else D.
/// </summary>
public static class LeadScoring
{
    public static LeadScore Score(LeadFacts facts)
    {
        ArgumentNullException.ThrowIfNull(facts);
        var reasons = new List<ScoreReason>();

        void Profile(bool present, int points, string field)
        {
            if (present) reasons.Add(new ScoreReason("profile", points, $"has {field}"));
        }
        Profile(facts.HasMobile, 8, "mobile");
        Profile(facts.HasEmail, 5, "email");
        Profile(facts.HasCompany, 5, "company");
        Profile(facts.HasTitle, 4, "title");
        Profile(facts.HasName, 2, "name");
        Profile(facts.HasCity, 1, "city");

        // A channel's points are in its descriptor; the SDK is not a channel that pushes records.
        var channelPoints = Ingestion.ChannelRegistry.Find(facts.Channel)?.ScoringPoints ?? (facts.Channel == "sdk" ? 8 : 5);
        reasons.Add(new ScoreReason("channel", channelPoints, $"source channel {facts.Channel ?? "unknown"}"));

        var forms7 = Math.Max(0, facts.FormsLast7Days);
        var forms8To30 = Math.Max(0, facts.FormsLast30Days - forms7);
        var other7 = Math.Max(0, facts.TouchpointsLast7Days - forms7);
        var other8To30 = Math.Max(0, facts.TouchpointsLast30Days - facts.TouchpointsLast7Days - forms8To30);
        if (forms7 > 0) reasons.Add(new ScoreReason("engagement", Math.Min(20, forms7 * 10), $"{forms7} form submission(s) in 7 days"));
        if (forms8To30 > 0) reasons.Add(new ScoreReason("engagement", Math.Min(10, forms8To30 * 5), $"{forms8To30} form submission(s) 8-30 days ago"));
        var touches = Math.Min(10, other7 * 3 + other8To30);
        if (touches > 0) reasons.Add(new ScoreReason("engagement", touches, $"{other7} other touchpoint(s) in 7 days, {other8To30} 8-30 days ago"));

        if (facts.LastActivityAt is { } last)
        {
            var days = (facts.Now - last).TotalDays;
            var (points, window) = days switch
            {
                <= 7 => (15, "7"),
                <= 30 => (10, "30"),
                <= 90 => (5, "90"),
                _ => (0, null),
            };
            reasons.Add(points > 0
                ? new ScoreReason("recency", points, $"active within {window} days")
                : new ScoreReason("recency", 0, $"inactive for {(int)days} days"));
        }
        else
        {
            reasons.Add(new ScoreReason("recency", 0, "no activity yet"));
        }

        var score = Math.Clamp(reasons.Sum(r => r.Points), 0, 100);
        return new LeadScore(score, Grade(score), reasons);
    }

    public static string Grade(int score) => score switch
    {
        >= 75 => "A",
        >= 50 => "B",
        >= 25 => "C",
        _ => "D",
    };
}
