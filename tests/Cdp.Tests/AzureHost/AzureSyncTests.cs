using Cdp.Orchestrations;
using Cdp.Orchestrations.Sync;
using Cdp.Shared.Access;
using Cdp.Shared.Sync;
using Cdp.Tests.Support;
using Cdp.Tests.Sync;

namespace Cdp.Tests.AzureHost;

/// <summary>The sync settings both hosts of <see cref="AzureSyncTests"/> run with.</summary>
static class SyncParity
{
    /// <summary>
    /// <see cref="SyncApp.SyncSettings"/> (100 ms first retry, the stand-in's robot for alerts, one WeCom call per
    /// push) with 1 + 5 attempts, and room for a slow WeCom call on a busy machine: a push that timed out would be an
    /// extra failed attempt and change the count the tests assert.
    /// </summary>
    public static Dictionary<string, string?> Settings(WeComStandIn wecom, TimeSpan firstRetryInterval)
    {
        var settings = SyncApp.SyncSettings(wecom, firstRetryInterval);
        settings["Sync:MaxRetries"] = "5";
        settings["Sync:AttemptTimeout"] = "00:00:30";
        settings["WeCom:Http:AttemptTimeout"] = "00:00:10";
        return settings;
    }
}

/// <summary>The Azure host with <see cref="SyncParity"/>'s settings.</summary>
public sealed class AzureSyncApp : AzureHostApp
{
    protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings => SyncParity.Settings(WeCom, TimeSpan.FromMilliseconds(100));
}

/// <summary>The local host with <see cref="SyncParity"/>'s settings.</summary>
public sealed class LocalSyncApp : SyncApp
{
    protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings => SyncParity.Settings(WeCom, FirstRetryInterval);
}

/// <summary>
/// Sync-then-retry through the Azure host's SyncThenRetry, PushSyncTask, MarkSyncTaskFailed and SendSyncAlert
/// functions on the real Durable worker (its retry policy, its durable timers), beside the same script on the local engine.
/// </summary>
public sealed class AzureSyncTests(AzureSyncApp azure, LocalSyncApp local) : IClassFixture<AzureSyncApp>, IClassFixture<LocalSyncApp>
{
    const string MarkTag = WeComStandIn.MarkTagPath;

    [Fact]
    public async Task A_push_failing_twice_succeeds_on_the_third_attempt_as_on_the_local_engine()
    {
        var onAzure = await OnBothHostsAsync(wecom => wecom.ErrCodeNext(45033, count: 2, path: MarkTag, errMsg: "api concurrent out of limit"), "复购");

        Assert.Equal((SyncStatus.Succeeded, 3, 3), (onAzure.Task.Status, onAzure.Task.Attempts, onAzure.MarkTagCalls));
        Assert.Contains("45033", onAzure.Task.LastError);
        Assert.Equal(["复购"], onAzure.Tags);
        Assert.Empty(onAzure.Alerts);
    }

    [Fact]
    public async Task A_push_that_always_fails_fails_after_one_plus_five_attempts_with_one_alert_as_on_the_local_engine()
    {
        var onAzure = await OnBothHostsAsync(
            wecom => wecom.ErrCodeNext(60011, count: 1000, path: MarkTag, errMsg: "no privilege to access/modify contact/party/agent"), "重点客户");

        Assert.Equal((SyncStatus.Failed, 6, 6), (onAzure.Task.Status, onAzure.Task.Attempts, onAzure.MarkTagCalls));
        Assert.Contains("60011", onAzure.Task.LastError);
        Assert.Equal(SyncStatus.Failed, onAzure.Status.ReadOutputAs<SyncThenRetryOutput>()!.Status);
        Assert.Contains("attempts: 6", Assert.Single(onAzure.Alerts));
        Assert.DoesNotContain("重点客户", onAzure.Tags);
    }

    /// <summary>
    /// The same script and tag on each host; the Azure run replayed its orchestrator (Durable's own history) and came
    /// to what the local engine came to.
    /// </summary>
    async Task<SyncRun> OnBothHostsAsync(Action<WeComStandIn> script, string tag)
    {
        var onAzure = await PushTagsAsync(azure.AsHost(), script, tag);
        var onLocal = await PushTagsAsync(HostUnderTest.Local(local), script, tag);
        Assert.True(azure.Functions.ExecutionsOf(onAzure.Status.InstanceId) > 1, $"executions: {azure.Functions.ExecutionsOf(onAzure.Status.InstanceId)}");
        Assert.Equal(onLocal.Comparable, onAzure.Comparable);
        return onAzure;
    }

    /// <summary>One task's run on one host, and <see cref="Comparable"/>: all of it but the ids, to set beside the other host's.</summary>
    sealed record SyncRun(SyncTaskView Task, OrchestrationStatus Status, int MarkTagCalls, IReadOnlyList<string> Tags, IReadOnlyList<string> Alerts, string Comparable);

    /// <summary>
    /// Saves tags on a new contact of the host's WeCom stand-in (playing <paramref name="script"/>) the way the
    /// sidebar route does, waits for the task's orchestration to finish, and reads what it left.
    /// </summary>
    static async Task<SyncRun> PushTagsAsync(HostUnderTest host, Action<WeComStandIn> script, params string[] tags)
    {
        var wecom = host.Backend.WeCom;
        var (contact, external) = await host.Backend.NewContactAsync();
        var callsBefore = wecom.Calls(MarkTag);
        script(wecom);
        Guid taskId;
        OrchestrationStatus status;
        try
        {
            using var scope = host.ClientScope();
            taskId = (await host.Get<SaveContactTags>().RunAsync(contact, tags, AuditActor.System, null, CancellationToken.None)).SyncTaskId;
            // The orchestration ends after the alert (if any): nothing about the task changes after this.
            status = await host.Orchestrations.WaitForCompletionAsync(SyncThenRetry.InstanceIdOf(taskId), TimeSpan.FromSeconds(120));
        }
        finally
        {
            wecom.ClearCues();
        }
        Assert.True(status.RuntimeStatus == OrchestrationRuntimeStatus.Completed, $"{status.RuntimeStatus}: {status.FailureDetails}");

        var task = (await host.Get<SyncTaskStore>().GetAsync(taskId, CancellationToken.None))!;
        var calls = wecom.Calls(MarkTag) - callsBefore;
        var tagNames = wecom.TagNamesOf(external!, CdpBackend.SalesUserId, SyncApp.TagGroup);
        var alerts = wecom.Alerts.Where(a => a.Contains(taskId.ToString(), StringComparison.Ordinal)).ToList();
        var comparable = string.Join("\n", [
            $"{task.Status} after {task.Attempts} attempt(s), {calls} mark_tag call(s); next attempt {task.NextAttemptAt is not null}; completed {task.CompletedAt is not null}",
            $"last error: {task.LastError}", $"note: {task.Note}",
            // Parsed: the local engine keeps JSON as jsonb (its own spacing and key order), Durable as serialized.
            $"output: {status.ReadOutputAs<SyncThenRetryOutput>()}", $"custom status: {status.ReadCustomStatusAs<string>()}",
            $"tags: {string.Join(",", tagNames)}", .. alerts])
            .Replace(taskId.ToString(), "{task}", StringComparison.OrdinalIgnoreCase)
            .Replace(contact.ToString(), "{contact}", StringComparison.OrdinalIgnoreCase)
            .Replace(external!, "{external}", StringComparison.Ordinal);
        return new SyncRun(task, status, calls, tagNames, alerts, comparable);
    }
}
