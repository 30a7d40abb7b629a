using Cdp.Shared.Tagging;

namespace Cdp.Tests.Tagging;

public sealed class TagRulesTests
{
    static readonly DateTimeOffset Now = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);

    static IEnumerable<string> Tags(TagFacts facts) => TagRules.Evaluate(facts).Select(t => t.Tag);

    [Fact]
    public void High_intent_from_three_form_submissions_in_seven_days()
    {
        Assert.DoesNotContain(TagRules.HighIntent, Tags(new TagFacts(2, 2, Now, Now.AddDays(-5), Now)));
        var tag = Assert.Single(TagRules.Evaluate(new TagFacts(3, 3, Now, Now.AddDays(-5), Now)));
        Assert.Equal((TagRules.HighIntent, "3 form submissions in 7 days (>= 3)"), (tag.Tag, tag.Reason));
    }

    [Fact]
    public void Dormant_after_ninety_days_without_activity_counting_from_creation_when_there_was_none()
    {
        Assert.Equal([TagRules.Dormant], Tags(new TagFacts(0, 0, Now.AddDays(-90), Now.AddDays(-400), Now)));
        Assert.Empty(Tags(new TagFacts(0, 0, Now.AddDays(-89), Now.AddDays(-400), Now)));
        Assert.Equal([TagRules.Dormant], Tags(new TagFacts(0, 0, null, Now.AddDays(-91), Now)));
        Assert.Empty(Tags(new TagFacts(0, 0, null, Now.AddDays(-10), Now)));
    }

    [Fact]
    public void Engaged_and_customer()
    {
        Assert.Equal([TagRules.Engaged, TagRules.Customer], Tags(new TagFacts(0, 5, Now, Now, Now, WonOpportunities: 1)));
        Assert.Equal("1 won opportunity", TagRules.Evaluate(new TagFacts(0, 0, Now, Now, Now, 1)).Single().Reason);
    }
}
