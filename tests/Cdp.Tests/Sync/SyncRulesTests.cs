using Cdp.Shared.Api;
using Cdp.Shared.Channels.WeCom;
using Cdp.Shared.Sync;

namespace Cdp.Tests.Sync;

/// <summary>The pure decisions, without a database.</summary>
public sealed class SyncRulesTests
{
    [Fact]
    public void Tags_are_trimmed_and_deduplicated_in_order() =>
        Assert.Equal(["VIP", "华东"], SyncRules.NormalizeTags([" VIP", "华东 ", "VIP"]));

    [Fact]
    public void Empty_and_over_long_tags_are_422() =>
        Assert.Equal(422, Assert.Throws<ApiProblemException>(() => SyncRules.NormalizeTags(["", new string('x', 31)])).Problem.Status);

    [Fact]
    public void Tag_caps_are_inclusive_and_the_list_cap_is_checked_first()
    {
        var atCap = Enumerable.Range(0, SyncRules.MaxTags).Select(i => i.ToString().PadLeft(SyncRules.MaxTagLength, 'x')).ToArray();
        Assert.Equal(SyncRules.MaxTags, SyncRules.NormalizeTags(atCap).Count);
        var problem = Assert.Throws<ApiProblemException>(() => SyncRules.NormalizeTags([.. atCap, "one more"])).Problem;
        Assert.Equal(422, problem.Status);
        // Duplicates count against the list cap too: a huge list is refused before it is even trimmed.
        var huge = Enumerable.Repeat("VIP", 200_000).ToArray();
        Assert.Equal(422, Assert.Throws<ApiProblemException>(() => SyncRules.NormalizeTags(huge)).Problem.Status);
    }

    [Fact]
    public void Follow_up_text_is_capped_inclusively()
    {
        Assert.Equal(SyncRules.MaxFollowUpLength, SyncRules.ValidateFollowUp(new string('x', SyncRules.MaxFollowUpLength), null).Content.Length);
        Assert.Equal(422, Assert.Throws<ApiProblemException>(() => SyncRules.ValidateFollowUp(new string('x', SyncRules.MaxFollowUpLength + 1), null)).Problem.Status);
    }

    [Fact]
    public void Tag_diff_adds_missing_and_removes_unwanted_corp_tags()
    {
        var (add, remove) = SyncRules.TagDiff(["a", "b"], ["b", "c"]);
        Assert.Equal(["c"], add);
        Assert.Equal(["a"], remove);
    }

    [Fact]
    public void Only_the_platforms_group_tags_are_ours_to_remove()
    {
        WeComTag[] tags =
        [
            new() { GroupName = "CDP", TagName = "VIP", TagId = "cdp-vip", Type = 1 },
            new() { GroupName = "客户等级", TagName = "VIP", TagId = "other-vip", Type = 1 },
            new() { GroupName = "CDP", TagName = "旧", TagId = "cdp-old", Type = 1 },   // no longer listed: still ours by group
            new() { GroupName = null, TagName = "私人", TagId = "cdp-personal", Type = 2 },
        ];
        var ours = SyncRules.OwnTagIds(tags, new HashSet<string> { "cdp-vip", "cdp-personal" }, "CDP");
        Assert.Equal(["cdp-vip", "cdp-old"], ours);
        var (add, remove) = SyncRules.TagDiff(ours, ["cdp-new"]);
        Assert.Equal(["cdp-new"], add);
        Assert.Equal(["cdp-vip", "cdp-old"], remove);
    }

    [Fact]
    public void The_schedule_counts_the_first_try_and_doubles_up_to_the_cap()
    {
        var schedule = new SyncOptions { FirstRetryInterval = TimeSpan.FromSeconds(5) }.Schedule();
        Assert.Equal(6, schedule.MaxAttempts);
        Assert.Equal([null, 5, 10, 20, 40, 80, null],
            Enumerable.Range(1, 7).Select(n => schedule.DelayBefore(n)?.TotalSeconds).ToArray());
        Assert.Equal(TimeSpan.FromMinutes(5), (schedule with { MaxAttempts = 20 }).DelayBefore(15));
    }

    [Fact]
    public void Alerts_mask_phone_numbers_and_emails()
    {
        var text = SyncRules.Redact("contact 13812345678 <li.lei@example.com> failed");
        Assert.Equal("contact 138****5678 <l***@example.com> failed", text);
    }

    [Fact]
    public void Unknown_targets_fail_clearly() =>
        Assert.Contains("Unknown sync target 'erp'", Assert.Throws<SyncRejectedException>(() => new SyncTargetRegistry([]).Get("erp")).Message);

    [Fact]
    public void The_follow_up_description_fits_WeCom() =>
        Assert.Equal(SyncRules.MaxDescriptionLength, SyncRules.FollowUpDescription(new string('很', 500), "visit", DateTimeOffset.UnixEpoch).Length);
}
