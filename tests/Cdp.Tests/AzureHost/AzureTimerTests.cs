using Cdp.Functions.Timers;
using Cdp.Orchestrations;
using Cdp.Orchestrations.Summaries;
using Cdp.Orchestrations.Sync;
using Cdp.Shared.Access;
using Cdp.Shared.Messaging;
using Cdp.Shared.Sync;
using Cdp.Tests.Conversion;
using Cdp.Tests.Messaging;
using Cdp.Tests.Summaries;
using Cdp.Tests.Support;
using Dapper;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using static Cdp.Tests.Messaging.TopicTestKit;

namespace Cdp.Tests.AzureHost;

/// <summary>
/// The Azure host with sync retries 90 s apart (so a failed push keeps its orchestration running for a while), the
/// outbox sink replaced by a recording one (Event Hubs is an outside system) and relay rounds of 2 rows.
/// </summary>
public sealed class AzureTimerApp : AzureHostApp
{
    public RecordingSink Sink { get; } = new();

    protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings =>
        [.. SyncParity.Settings(WeCom, TimeSpan.FromSeconds(90)), new("Outbox:BatchSize", "2"), new("Alerts:Enabled", "true")];

    protected override void ConfigureServices(IServiceCollection services) =>
        services.Replace(ServiceDescriptor.Singleton<IOutboxSink>(Sink));

    /// <summary>Calls a function of the host the way the worker does: its class activated from a new scope of the host's services.</summary>
    public async Task InvokeAsync<TFunctions>(Func<TFunctions, Task> call, params object[] arguments) where TFunctions : class
    {
        using var scope = Services.CreateScope();
        await call(ActivatorUtilities.CreateInstance<TFunctions>(scope.ServiceProvider, arguments));
    }
}

/// <summary>
/// The Azure host's timer functions, called as the worker calls them, have the effect of the local host's hosted
/// services: SummaryRecalculationTimer and HousekeepingTimer (orchestrations/, on Durable here), and OutboxSweep
/// (the sweep of the host's own relay loop, OutboxRelayService), and AlertTimer (Operations/Alerts).
/// </summary>
public sealed class AzureTimerTests(AzureTimerApp azure) : IClassFixture<AzureTimerApp>
{
    [Fact]
    public async Task SummaryRecalculationTimer_starts_the_full_recalculation_on_Durable_which_completes()
    {
        var history = new SummaryHistory(azure.Database.DataSource);
        await history.AccountAsync(ConversionData.Company());
        await history.LeadAsync();

        await azure.InvokeAsync<TimerFunctions>(f => f.RunSummaryRecalculation(new TimerInfo(), azure.DurableClient));

        using var scope = azure.UseDurableClient();
        var status = await azure.Orchestrations.WaitForCompletionAsync(RecalculateAllSummariesOrchestrator.InstanceId, TimeSpan.FromSeconds(120));
        Assert.Equal((nameof(RecalculateAllSummariesOrchestrator), OrchestrationRuntimeStatus.Completed), (status.Name, status.RuntimeStatus));
        await using var conn = await azure.Database.DataSource.OpenConnectionAsync();
        Assert.Equal(await conn.QuerySingleAsync<(int, int, int)>(
                "select (select count(*) from account)::int, (select count(*) from contact)::int, (select count(*) from lead)::int"),
            status.ReadOutputAs<RecalculateAllSummariesResult>() is { } r ? (r.Accounts, r.Contacts, r.Leads) : default);
    }

    [Fact]
    public async Task HousekeepingTimer_purges_finished_orchestrations_past_the_retention_and_keeps_recent_and_running_ones()
    {
        var finished = await StartPushAsync(failFirst: false);
        using var scope = azure.UseDurableClient();
        Assert.Equal(OrchestrationRuntimeStatus.Completed,
            (await azure.Orchestrations.WaitForCompletionAsync(finished, TimeSpan.FromSeconds(120))).RuntimeStatus);
        var running = await StartPushAsync(failFirst: true);
        // The failed push's run now waits 90 s on a durable timer for its next attempt.
        await Eventually.Until(async () => (await TaskOf(running)).Status == SyncStatus.Retrying, TimeSpan.FromSeconds(60), "the first push failed");

        // As configured (7 days): both are younger than the retention.
        await azure.InvokeAsync<TimerFunctions>(f => f.RunHousekeeping(new TimerInfo(), azure.DurableClient));
        Assert.NotNull(await azure.Orchestrations.GetStatusAsync(finished));
        Assert.Equal(OrchestrationRuntimeStatus.Running, (await azure.Orchestrations.GetStatusAsync(running))?.RuntimeStatus);

        // With no retention the finished one is past it; the running one is never purged.
        var noRetention = ActivatorUtilities.CreateInstance<Housekeeping>(azure.Services,
            Options.Create(new HousekeepingOptions { RetainFinishedOrchestrations = TimeSpan.Zero }));
        await azure.InvokeAsync<TimerFunctions>(f => f.RunHousekeeping(new TimerInfo(), azure.DurableClient), noRetention);
        Assert.Null(await azure.Orchestrations.GetStatusAsync(finished));
        Assert.Equal(OrchestrationRuntimeStatus.Running, (await azure.Orchestrations.GetStatusAsync(running))?.RuntimeStatus);
    }

    [Fact]
    public async Task HousekeepingTimer_starts_the_push_of_a_sync_task_left_pending_by_a_crash_after_the_commit()
    {
        var (contact, external) = await azure.NewContactAsync();
        // Without a Durable client in scope the start fails after the save committed, as a crash there would.
        await Assert.ThrowsAsync<InvalidOperationException>(() =>
            azure.Services.GetRequiredService<SaveContactTags>().RunAsync(contact, ["断点续推"], AuditActor.System, null, CancellationToken.None));
        await using var conn = await azure.Database.DataSource.OpenConnectionAsync();
        var taskId = await conn.QuerySingleAsync<Guid>("select sync_task_id from sync_task where entity_id = @contact", new { contact });

        await azure.InvokeAsync<TimerFunctions>(f => f.RunHousekeeping(new TimerInfo(), azure.DurableClient));
        Assert.Equal(SyncStatus.Pending, (await TaskOf(taskId)).Status);   // too young: it may be about to start

        await conn.ExecuteAsync("update sync_task set updated_at = now() - interval '2 minutes' where sync_task_id = @taskId", new { taskId });
        await azure.InvokeAsync<TimerFunctions>(f => f.RunHousekeeping(new TimerInfo(), azure.DurableClient));

        using var scope = azure.UseDurableClient();
        var status = await azure.Orchestrations.WaitForCompletionAsync(SyncThenRetry.InstanceIdOf(taskId), TimeSpan.FromSeconds(120));
        Assert.Equal(OrchestrationRuntimeStatus.Completed, status.RuntimeStatus);
        Assert.Equal((SyncStatus.Succeeded, 1), ((await TaskOf(taskId)).Status, (await TaskOf(taskId)).Attempts));
        Assert.Equal(["断点续推"], azure.WeCom.TagNamesOf(external!, CdpBackend.SalesUserId, Cdp.Tests.Sync.SyncApp.TagGroup));
    }

    [Fact]
    public async Task OutboxSweep_sends_every_pending_row_in_order_per_key_and_leaves_the_outbox_empty()
    {
        var topic = NewTopic();
        for (var n = 1; n <= 3; n++)
            foreach (var key in new[] { "c1", "c2" })
                await Publish(azure.Database.DataSource, topic, key, n);

        // Rounds of 2 rows: the sweep goes on while rounds come back full.
        await azure.InvokeAsync<OutboxSweepFunction>(f => f.Sweep(new TimerInfo(), CancellationToken.None));

        Assert.Equal(0, await Rows(azure.Database.DataSource, topic));
        await using var conn = await azure.Database.DataSource.OpenConnectionAsync();
        Assert.Equal(0, await conn.QuerySingleAsync<int>("select count(*)::int from topic_message where status = 'pending'"));
        foreach (var key in new[] { "c1", "c2" })
            Assert.Equal([1, 2, 3], azure.Sink.Sent.Where(m => m.Topic == topic && m.Key == key)
                .Select(m => System.Text.Json.JsonDocument.Parse(m.Payload).RootElement.GetProperty("n").GetInt32()));
    }

    [Fact]
    public async Task AlertTimer_evaluates_the_rules_like_the_local_timer_one_message_while_open_and_one_resolution()
    {
        var topic = NewTopic();
        await using var conn = await azure.Database.DataSource.OpenConnectionAsync();
        await conn.ExecuteAsync("""
            insert into topic_message (topic, message_key, payload, status, attempts, last_error, dead_at)
            values (@topic, 'k', '{}'::jsonb, 'dead', 4, 'boom', now())
            """, new { topic });
        bool Opened(string a) => a.Contains("CDP 告警: dead_letters<", StringComparison.Ordinal) && a.Contains(topic, StringComparison.Ordinal);
        var from = azure.WeCom.Alerts.Count;

        for (var i = 0; i < 3; i++) await azure.InvokeAsync<AlertTimerFunction>(f => f.Run(new TimerInfo(), CancellationToken.None));
        Assert.Single(azure.WeCom.Alerts.Skip(from), Opened);

        await conn.ExecuteAsync("delete from topic_message where topic = @topic", new { topic });
        for (var i = 0; i < 2; i++) await azure.InvokeAsync<AlertTimerFunction>(f => f.Run(new TimerInfo(), CancellationToken.None));
        Assert.Single(azure.WeCom.Alerts.Skip(from), a => a.Contains("CDP 告警已恢复: dead_letters<", StringComparison.Ordinal));
        Assert.Single(azure.WeCom.Alerts.Skip(from), Opened);
    }

    /// <summary>Saves a tag on a new contact (the push fails once when <paramref name="failFirst"/>); the run's instance id.</summary>
    async Task<string> StartPushAsync(bool failFirst)
    {
        var (contact, _) = await azure.NewContactAsync();
        if (failFirst) azure.WeCom.ErrCodeNext(45033, count: 1, path: WeComStandIn.MarkTagPath);
        using var scope = azure.UseDurableClient();
        var saved = await azure.Services.GetRequiredService<SaveContactTags>().RunAsync(contact, ["保留"], AuditActor.System, null, CancellationToken.None);
        return SyncThenRetry.InstanceIdOf(saved.SyncTaskId);
    }

    async Task<SyncTaskView> TaskOf(string instanceId) => await TaskOf(Guid.Parse(instanceId["sync-".Length..]));

    async Task<SyncTaskView> TaskOf(Guid taskId) =>
        (await azure.Services.GetRequiredService<SyncTaskStore>().GetAsync(taskId, CancellationToken.None))!;
}
