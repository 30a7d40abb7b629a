using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Cdp.Shared;
using Cdp.Tests.Support;
using Dapper;

namespace Cdp.Tests.Orchestrations;

/// <summary>
/// The real sync-then-retry orchestration in real host processes, one of them SIGKILLed mid-timer or mid-activity:
/// another process finishes the work, no recorded activity result is lost and completed steps are not run again.
/// </summary>
public sealed class OrchestrationCrashTests(CdpBackend backend) : IClassFixture<CdpBackend>
{
    Dictionary<string, string?> Settings(TimeSpan firstRetry) => new(backend.Settings)
    {
        ["Sync:FirstRetryInterval"] = firstRetry.ToString(),
        ["Sync:AttemptTimeout"] = "00:00:20",
        ["WeCom:Http:MaxRetries"] = "0",
        ["WeCom:Http:AttemptTimeout"] = "00:00:15",
        ["Orchestrations:LeaseDuration"] = "00:00:02",
        ["Orchestrations:PollInterval"] = "00:00:00.100",
    };

    [Fact]
    public async Task Killed_during_a_retry_timer_another_host_fires_it_and_the_failed_attempt_is_not_run_again()
    {
        var (contact, external) = await backend.NewContactAsync();
        backend.WeCom.FailNext(1, HttpStatusCode.ServiceUnavailable, WeComStandIn.MarkTagPath);
        var settings = Settings(firstRetry: TimeSpan.FromSeconds(4));

        var doomed = await HostProcess.StartAsync(settings);
        var taskId = await PutTagsAsync(doomed.Client, contact, "战略客户");
        // The failure is recorded and the retry timer created: the instance now sleeps on a durable timer.
        await Eventually.Until(async () => (await HistoryAsync($"sync-{taskId}")).Contains("TimerCreated"),
            TimeSpan.FromSeconds(20), "first attempt failed, waiting on the retry timer");
        doomed.Kill();
        await doomed.DisposeAsync();

        await using var survivor = await HostProcess.StartAsync(settings);
        await Eventually.Until(async () => (await TaskAsync(survivor.Client, taskId)).GetProperty("status").GetString() == "succeeded",
            TimeSpan.FromSeconds(30), "the survivor fires the timer and pushes");

        await UntilCompletedAsync(survivor.Client, $"sync-{taskId}");
        var task = await TaskAsync(survivor.Client, taskId);
        Assert.Equal(2, task.GetProperty("attempts").GetInt32());
        Assert.Equal(["战略客户"], backend.WeCom.TagNamesOf(external!, CdpBackend.SalesUserId, Sync.SyncApp.TagGroup));
        var history = await HistoryAsync($"sync-{taskId}");
        Assert.Equal(1, history.Count(k => k == "ActivityFailed"));
        Assert.Equal(1, history.Count(k => k == "TimerFired"));
        Assert.Equal(1, history.Count(k => k == "ActivityCompleted"));
    }

    [Fact]
    public async Task Killed_inside_an_activity_another_host_takes_it_over_after_the_lease_and_records_its_result_once()
    {
        var (contact, external) = await backend.NewContactAsync();
        var settings = Settings(firstRetry: TimeSpan.FromSeconds(1));
        var markTagsBefore = backend.WeCom.Calls(WeComStandIn.MarkTagPath);
        // The first mark_tag answers only after the host is dead; the push must be redone by the next host.
        backend.WeCom.DelayNext(TimeSpan.FromSeconds(6), 1, WeComStandIn.MarkTagPath);

        var doomed = await HostProcess.StartAsync(settings);
        var taskId = await PutTagsAsync(doomed.Client, contact, "续约");
        await Eventually.Until(() => backend.WeCom.Calls(WeComStandIn.MarkTagPath) > markTagsBefore, TimeSpan.FromSeconds(20), "push in flight");
        doomed.Kill();
        await doomed.DisposeAsync();

        await using var survivor = await HostProcess.StartAsync(settings);
        await Eventually.Until(async () => (await TaskAsync(survivor.Client, taskId)).GetProperty("status").GetString() == "succeeded",
            TimeSpan.FromSeconds(40), "the survivor re-runs the interrupted push");

        await UntilCompletedAsync(survivor.Client, $"sync-{taskId}");
        Assert.Equal(["续约"], backend.WeCom.TagNamesOf(external!, CdpBackend.SalesUserId, Sync.SyncApp.TagGroup));
        var history = await HistoryAsync($"sync-{taskId}");
        Assert.Equal(1, history.Count(k => k == "ActivityCompleted"));
        Assert.Equal(0, history.Count(k => k == "ActivityFailed"));
    }

    /// <summary>The task row says succeeded inside the activity; the engine records the result just after.</summary>
    static Task UntilCompletedAsync(HttpClient client, string instanceId) =>
        Eventually.Until(async () => (await client.GetFromJsonAsync<JsonElement>($"/runtime/webhooks/durabletask/instances/{instanceId}"))
            .GetProperty("runtimeStatus").GetString() == "Completed", TimeSpan.FromSeconds(30), $"{instanceId} completed");

    static async Task<Guid> PutTagsAsync(HttpClient client, Guid contact, params string[] tags)
    {
        using var response = await client.PutAsJsonAsync($"/api/contacts/{contact}/tags", new { tags });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("syncTaskId").GetGuid();
    }

    static async Task<JsonElement> TaskAsync(HttpClient client, Guid id) =>
        await client.GetFromJsonAsync<JsonElement>($"/api/sync-tasks/{id}", CdpJson.Options);

    async Task<List<string>> HistoryAsync(string instanceId)
    {
        await using var conn = await backend.Database.DataSource.OpenConnectionAsync();
        return (await conn.QueryAsync<string>("select kind from orchestration_history where instance_id = @instanceId order by event_id", new { instanceId })).ToList();
    }
}
