namespace Cdp.Shared.Summaries;

/// <summary>The summary formulas, pure so they are tested without a database.</summary>
public static class SummaryRules
{
    /// <summary>The touchpoint type a form submission is recorded as.</summary>
    public const string FormSubmission = "form_submit";

    /// <summary>won / (won + lost); null while nothing has closed (an unknown rate, not a 0 % one).</summary>
    public static decimal? WinRate(int won, int lost) =>
        won + lost == 0 ? null : Math.Round((decimal)won / (won + lost), 4, MidpointRounding.AwayFromZero);

    /// <summary>
    /// Account health 0..100 from the days since its last activity (touchpoint of the account or its contacts,
    /// opportunity opened or closed), piecewise linear:
    /// <code>
    ///   days   0..7    100          (active this week)
    ///          7..30   100 -> 70
    ///         30..90    70 -> 30
    ///         90..180   30 -> 0
    ///        180+        0          (and no activity at all: 0)
    /// </code>
    /// </summary>
    public static int HealthScore(DateTimeOffset? lastActivity, DateTimeOffset now)
    {
        if (lastActivity is not { } last) return 0;
        var days = Math.Max(0, (now - last).TotalDays);
        var score = days switch
        {
            <= 7 => 100,
            <= 30 => Lerp(days, 7, 30, 100, 70),
            <= 90 => Lerp(days, 30, 90, 70, 30),
            <= 180 => Lerp(days, 90, 180, 30, 0),
            _ => 0,
        };
        return (int)Math.Round(score, MidpointRounding.AwayFromZero);
    }

    /// <summary>
    /// Contact engagement 0..100: each touchpoint of the last 30 days counts 10, each of days 31..90 counts 4, and
    /// each form submission of the last 90 days adds 10 more (a form is a stronger signal than a view); capped at 100.
    /// </summary>
    public static int EngagementScore(int touchpointsLast30, int touchpointsLast90, int formsLast90)
    {
        var older = Math.Max(0, touchpointsLast90 - touchpointsLast30);
        return Math.Min(100, touchpointsLast30 * 10 + older * 4 + formsLast90 * 10);
    }

    /// <summary>Whole days from creation to conversion (or to now while still open).</summary>
    public static int DaysInPipeline(DateTimeOffset createdAt, DateTimeOffset? convertedAt, DateTimeOffset now) =>
        Math.Max(0, (int)((convertedAt ?? now) - createdAt).TotalDays);

    static double Lerp(double x, double x0, double x1, double y0, double y1) => y0 + (y1 - y0) * (x - x0) / (x1 - x0);
}
