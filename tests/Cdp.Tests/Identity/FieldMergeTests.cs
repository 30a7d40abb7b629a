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
}
