using System.Net;
using System.Net.Http.Json;
using Cdp.Shared;
using Cdp.Shared.Sync;
using Cdp.Tests.Support;

namespace Cdp.Tests.Sync;

/// <summary>Seed 000 end to end: save, then sync to the WeCom stand-in with durable retries, then failed + alert.</summary>
public sealed class SyncThenRetryTests(SyncApp app) : IClassFixture<SyncApp>
{
    const string MarkTag = WeComStandIn.MarkTagPath;

    [Fact]
    public async Task Tags_reach_WeCom_on_the_first_attempt()
    {
        var (contact, external) = await app.NewContactAsync();
        var before = app.WeCom.Calls(MarkTag);

        var taskId = await app.PutTagsAsync(contact, " VIP ", "华东", "VIP");

        var (task, _) = await app.UntilStatusAsync(taskId, SyncStatus.Succeeded);
        Assert.Equal((SyncTargetNames.WeComTags, "contact", contact, 1), (task.Target, task.EntityType, task.EntityId, task.Attempts));
        Assert.NotNull(task.CompletedAt);
        Assert.Null(task.LastError);
        Assert.Equal(before + 1, app.WeCom.Calls(MarkTag));
        // The set, trimmed and de-duplicated, becomes the CDP group's tags; 制造业 (group 行业, not ours) stays.
        Assert.Equal(["VIP", "制造业", "华东"], app.WeCom.TagNamesOf(external!, CdpBackend.SalesUserId));
        Assert.Contains("CDP/VIP", app.WeCom.CorpTags());
    }

    [Fact]
    public async Task A_push_that_fails_twice_succeeds_on_the_third_attempt()
    {
        var (contact, external) = await app.NewContactAsync();
        app.WeCom.ErrCodeNext(45033, count: 2, path: MarkTag, errMsg: "api concurrent out of limit");

        var taskId = await app.PutTagsAsync(contact, "复购");

        var (task, seen) = await app.UntilStatusAsync(taskId, SyncStatus.Succeeded);
        Assert.Equal(3, task.Attempts);
        Assert.Contains(SyncStatus.Retrying, seen);
        Assert.Contains("45033", task.LastError);
        Assert.Equal(["复购"], app.WeCom.TagNamesOf(external!, CdpBackend.SalesUserId, SyncApp.TagGroup));
    }

    [Fact]
    public async Task After_one_plus_five_failed_attempts_the_task_fails_with_one_alert_and_a_retry_redrives_it()
    {
        var (contact, external) = await app.NewContactAsync();
        app.WeCom.ErrCodeNext(60011, count: 6, path: MarkTag, errMsg: "no privilege to access/modify contact/party/agent");

        var taskId = await app.PutTagsAsync(contact, "重点客户");

        var (task, seen) = await app.UntilStatusAsync(taskId, SyncStatus.Failed);
        Assert.Equal(6, task.Attempts);
        Assert.Contains(SyncStatus.Retrying, seen);
        Assert.Contains("60011", task.LastError);
        Assert.Null(task.NextAttemptAt);
        await Eventually.Until(() => app.WeCom.Alerts.Any(a => a.Contains(taskId.ToString())), TimeSpan.FromSeconds(10), "alert");
        await Task.Delay(500);
        var alert = Assert.Single(app.WeCom.Alerts, a => a.Contains(taskId.ToString()));
        Assert.Contains("wecom_tags", alert);
        Assert.Contains("attempts: 6", alert);
        Assert.DoesNotMatch(@"1[3-9]\d{9}", alert);
        Assert.DoesNotContain("重点客户", app.WeCom.TagNamesOf(external!, CdpBackend.SalesUserId));

        var failed = await app.Client.GetFromJsonAsync<List<SyncTaskView>>("/api/sync-tasks?status=failed", CdpJson.Options);
        Assert.Contains(failed!, t => t.Id == taskId);

        using var retry = await app.Client.PostAsync($"/api/sync-tasks/{taskId}/retry", null);
        Assert.Equal(HttpStatusCode.Accepted, retry.StatusCode);
        var (redriven, _) = await app.UntilStatusAsync(taskId, SyncStatus.Succeeded);
        Assert.Equal(1, redriven.Attempts);
        Assert.Equal(["重点客户"], app.WeCom.TagNamesOf(external!, CdpBackend.SalesUserId, SyncApp.TagGroup));

        using var again = await app.Client.PostAsync($"/api/sync-tasks/{taskId}/retry", null);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal("application/problem+json", again.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task A_follow_up_becomes_the_WeCom_remark_description()
    {
        var (contact, external) = await app.NewContactAsync();

        using var response = await app.Client.PostAsJsonAsync($"/api/contacts/{contact}/follow-ups",
            new { content = "电话沟通，客户关注交付周期", channel = "phone", occurredAt = "2026-03-02T10:00:00+08:00" });

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var saved = (await response.Content.ReadFromJsonAsync<FollowUpSaved>(CdpJson.Options))!;
        Assert.NotEqual(Guid.Empty, saved.Id);
        var (task, _) = await app.UntilStatusAsync(saved.SyncTaskId, SyncStatus.Succeeded);
        Assert.Equal(SyncTargetNames.WeComFollowUp, task.Target);
        Assert.Equal("2026-03-02 phone: 电话沟通，客户关注交付周期", app.WeCom.DescriptionOf(external!, CdpBackend.SalesUserId));
    }

    [Fact]
    public async Task A_contact_without_WeCom_identity_gets_a_task_that_succeeds_at_once_with_nothing_to_push()
    {
        var (contact, _) = await app.NewContactAsync(withWeCom: false);
        var before = app.WeCom.Calls(MarkTag);

        var taskId = await app.PutTagsAsync(contact, "线下活动");

        var task = await app.TaskAsync(taskId);
        Assert.Equal((SyncStatus.Succeeded, 0), (task.Status, task.Attempts));
        Assert.Contains("nothing to push", task.Note);
        Assert.Contains("WeCom", task.Note);
        Assert.Equal(before, app.WeCom.Calls(MarkTag));
    }
}

/// <summary>An older change still waiting to retry must never overwrite a newer one that already reached WeCom.</summary>
public sealed class SupersededSyncTests(SlowRetrySyncApp app) : IClassFixture<SlowRetrySyncApp>
{
    [Fact]
    public async Task An_older_change_retrying_late_does_not_push_after_a_newer_change_succeeded()
    {
        var (contact, external) = await app.NewContactAsync();
        app.WeCom.ErrCodeNext(45033, count: 1, path: WeComStandIn.MarkTagPath);

        var older = await app.PutTagsAsync(contact, "旧标签A", "旧标签B");
        await app.UntilStatusAsync(older, SyncStatus.Retrying);
        var newer = await app.PutTagsAsync(contact, "新标签");
        await app.UntilStatusAsync(newer, SyncStatus.Succeeded);
        var callsAfterNewer = app.WeCom.Calls(WeComStandIn.MarkTagPath);

        var (task, _) = await app.UntilStatusAsync(older, SyncStatus.Succeeded);

        Assert.Contains("superseded", task.Note);
        Assert.Equal(2, task.Attempts);
        Assert.Equal(callsAfterNewer, app.WeCom.Calls(WeComStandIn.MarkTagPath));
        Assert.Equal(["新标签"], app.WeCom.TagNamesOf(external!, CdpBackend.SalesUserId, SyncApp.TagGroup));
    }
}
