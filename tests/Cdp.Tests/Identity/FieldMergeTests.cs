using Cdp.Shared.Identity;

namespace Cdp.Tests.Identity;

public class FieldMergeTests
{
    private static readonly DateTimeOffset T1 = new(2025, 3, 1, 8, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset T2 = T1.AddHours(1);

    private static Dictionary<string, string?> Values(params (string Field, string? Value)[] values) =>
        values.ToDictionary(v => v.Field, v => v.Value);

    [Fact]
    public void EmptyNeverOverwrites()
    {
        var result = FieldMerge.Merge(
            Values(("name", "张伟"), ("title", "经理")),
            new Dictionary<string, DateTimeOffset> { ["name"] = T1, ["title"] = T1 },
            Values(("name", null), ("title", "  ")),
            T2);

        Assert.Equal("张伟", result.Values["name"]);
        Assert.Equal("经理", result.Values["title"]);
        Assert.Empty(result.Changed);
        Assert.False(result.HasChanges);
        Assert.Equal(T1, result.FieldTimes["name"]);
    }

    [Fact]
    public void NewerIncomingWins()
    {
        var result = FieldMerge.Merge(
            Values(("title", "经理")), new Dictionary<string, DateTimeOffset> { ["title"] = T1 },
            Values(("title", "总监")), T2);

        Assert.Equal("总监", result.Values["title"]);
        Assert.Equal(["title"], result.Changed);
        Assert.Equal(T2, result.FieldTimes["title"]);
    }

    [Fact]
    public void SameTimeIncomingWins()
    {
        var result = FieldMerge.Merge(
            Values(("title", "经理")), new Dictionary<string, DateTimeOffset> { ["title"] = T1 },
            Values(("title", "总监")), T1);

        Assert.Equal("总监", result.Values["title"]);
    }

    [Fact]
    public void OlderIncomingOnlyFillsEmptyFields()
    {
        var result = FieldMerge.Merge(
            Values(("title", "总监"), ("city", null)),
            new Dictionary<string, DateTimeOffset> { ["title"] = T2 },
            Values(("title", "经理"), ("city", "上海"), ("phone", "021-1234")),
            T1);

        Assert.Equal("总监", result.Values["title"]);
        Assert.Equal("上海", result.Values["city"]);
        Assert.Equal("021-1234", result.Values["phone"]);
        Assert.Equal(["city", "phone"], result.Changed);
        Assert.Equal(T2, result.FieldTimes["title"]);
        Assert.Equal(T1, result.FieldTimes["city"]);
    }

    [Fact]
    public void HeldValueWithoutFieldTimeCountsAsOlder()
    {
        var result = FieldMerge.Merge(Values(("title", "经理")), new Dictionary<string, DateTimeOffset>(),
            Values(("title", "总监")), T1);

        Assert.Equal("总监", result.Values["title"]);
    }

    [Fact]
    public void SameValueSeenLaterMovesOnlyTheFieldTime()
    {
        var result = FieldMerge.Merge(
            Values(("title", "经理")), new Dictionary<string, DateTimeOffset> { ["title"] = T1 },
            Values(("title", "经理")), T2);

        Assert.Empty(result.Changed);
        Assert.True(result.HasChanges);
        Assert.Equal(T2, result.FieldTimes["title"]);

        var older = FieldMerge.Merge(result.Values, result.FieldTimes, Values(("title", "主管")), T1);
        Assert.Equal("经理", older.Values["title"]);
    }

    static FieldSourcing From(string incoming, params (string Field, string Source)[] held) =>
        new(held.ToDictionary(h => h.Field, h => h.Source), incoming);

    [Fact]
    public void A_visitor_typed_record_fills_empty_fields_only()
    {
        var result = FieldMerge.Merge(
            Values(("name", "王建国"), ("email", null)),
            new Dictionary<string, DateTimeOffset> { ["name"] = T1 },
            Values(("name", "王先生"), ("email", "w@example.com")), T2, From("wechat", ("name", "crm")));

        Assert.Equal(("王建国", "w@example.com"), (result.Values["name"], result.Values["email"]));
        Assert.Equal(["email"], result.Changed);
        Assert.Equal("wechat", result.FieldSources["email"]);
        Assert.Equal("crm", result.FieldSources["name"]);
    }

    [Fact]
    public void A_held_value_without_a_source_counts_as_a_systems()
    {
        var result = FieldMerge.Merge(Values(("name", "王建国")), new Dictionary<string, DateTimeOffset>(),
            Values(("name", "王先生")), T2, From("wechat"));

        Assert.Equal("王建国", result.Values["name"]);
    }

    [Fact]
    public void A_system_overwrites_a_visitor_typed_value_and_takes_it_over()
    {
        var result = FieldMerge.Merge(
            Values(("email", "typed@example.com")), new Dictionary<string, DateTimeOffset> { ["email"] = T1 },
            Values(("email", "crm@example.com")), T2, From("crm", ("email", "wechat")));

        Assert.Equal("crm@example.com", result.Values["email"]);
        Assert.Equal("crm", result.FieldSources["email"]);
    }
}
