namespace Cdp.Shared.Tagging;

/// <summary>What the tag rules look at; the summary computation fills it for leads, contacts and accounts alike.</summary>
public sealed record TagFacts(
    int FormsLast7Days,
    int TouchpointsLast30Days,
    DateTimeOffset? LastActivityAt,
    DateTimeOffset CreatedAt,
    DateTimeOffset Now,
    int WonOpportunities = 0);

/// <summary>A tag a rule gave, with the rule's reason.</summary>
public sealed record ComputedTag(string Tag, string Reason);

/// <summary>
/// Rule-based tags, recomputed with every summary (and so dropped again once a rule stops holding):
/// <list type="bullet">
/// <item><c>high_intent</c>: at least 3 form submissions in the last 7 days;</item>
/// <item><c>engaged</c>: at least 5 touchpoints in the last 30 days;</item>
/// <item><c>dormant</c>: no activity for 90 days (an entity that never had any counts from its creation);</item>
/// <item><c>customer</c>: at least one won opportunity (accounts).</item>
/// </list>
/// </summary>
public static class TagRules
{
    public const string HighIntent = "high_intent";
    public const string Engaged = "engaged";
    public const string Dormant = "dormant";
    public const string Customer = "customer";

    public const int HighIntentForms = 3;
    public const int EngagedTouchpoints = 5;
    public static readonly TimeSpan DormantAfter = TimeSpan.FromDays(90);

    public static IReadOnlyList<ComputedTag> Evaluate(TagFacts facts)
    {
        ArgumentNullException.ThrowIfNull(facts);
        var tags = new List<ComputedTag>();
        if (facts.FormsLast7Days >= HighIntentForms)
            tags.Add(new ComputedTag(HighIntent, $"{facts.FormsLast7Days} form submissions in 7 days (>= {HighIntentForms})"));
        if (facts.TouchpointsLast30Days >= EngagedTouchpoints)
            tags.Add(new ComputedTag(Engaged, $"{facts.TouchpointsLast30Days} touchpoints in 30 days (>= {EngagedTouchpoints})"));
        var since = facts.LastActivityAt ?? facts.CreatedAt;
        if (facts.Now - since >= DormantAfter)
            tags.Add(new ComputedTag(Dormant, facts.LastActivityAt is null
                ? $"no activity since creation {(int)(facts.Now - since).TotalDays} days ago"
                : $"no activity for {(int)(facts.Now - since).TotalDays} days"));
        if (facts.WonOpportunities > 0)
            tags.Add(new ComputedTag(Customer, $"{facts.WonOpportunities} won opportunit{(facts.WonOpportunities == 1 ? "y" : "ies")}"));
        return tags;
    }
}
