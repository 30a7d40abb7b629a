using Cdp.Orchestrations;
using Cdp.Orchestrations.Sync;
using Cdp.Shared.Sync;
using Cdp.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Cdp.Tests.Sync;

/// <summary>Timeouts, targets nobody registered, and the alert rate limit.</summary>
public sealed class SyncFailureModesTests(SyncApp app) : IClassFixture<SyncApp>
{
    [Fact]
    public async Task A_push_that_times_out_is_a_failed_attempt_and_is_retried()
    {
        var (contact, external) = await app.NewContactAsync();
        app.WeCom.HangNext(1, WeComStandIn.MarkTagPath);   // longer than WeCom:Http:AttemptTimeout (3 s)

        var taskId = await app.PutTagsAsync(contact, "超时重试");

        var (task, _) = await app.UntilStatusAsync(taskId, SyncStatus.Succeeded);
        Assert.Equal(2, task.Attempts);
        Assert.Contains("Timeout", task.LastError);
        Assert.Equal(["超时重试"], app.WeCom.TagNamesOf(external!, CdpBackend.SalesUserId, SyncApp.TagGroup));
    }

    [Fact]
    public async Task An_unknown_target_fails_at_once_without_retries()
    {
        var (contact, _) = await app.NewContactAsync(withWeCom: false);
        var taskId = await app.InsertTaskAsync("erp", contact);

        await app.Services.GetRequiredService<ISyncRunner>().StartAsync(taskId, default);

        var (task, _) = await app.UntilStatusAsync(taskId, SyncStatus.Failed);
        Assert.Equal(1, task.Attempts);
        Assert.Contains("Unknown sync target 'erp'", task.LastError);
        var status = await app.Services.GetRequiredService<IOrchestrationClient>().WaitForCompletionAsync(SyncThenRetry.InstanceIdOf(taskId), TimeSpan.FromSeconds(20));
        Assert.Equal(OrchestrationRuntimeStatus.Completed, status.RuntimeStatus);
        Assert.Equal(SyncStatus.Failed, status.ReadOutputAs<SyncThenRetryOutput>()!.Status);
    }

    [Fact]
    public async Task The_finance_target_without_a_base_url_fails_clearly()
    {
        var (contact, _) = await app.NewContactAsync(withWeCom: false);
        var taskId = await app.InsertTaskAsync(SyncTargetNames.Finance, contact);

        await app.Services.GetRequiredService<ISyncRunner>().StartAsync(taskId, default);

        var (task, _) = await app.UntilStatusAsync(taskId, SyncStatus.Failed);
        Assert.Contains("Sync:Finance:BaseUrl", task.LastError);
    }
}

public sealed class SyncAlertLimitTests(AlertLimitSyncApp app) : IClassFixture<AlertLimitSyncApp>
{
    [Fact]
    public async Task Alerts_over_the_limit_are_suppressed_and_counted_in_the_next_one()
    {
        var contact = (await app.NewContactAsync(withWeCom: false)).Id;
        var tasks = new List<Guid>();
        for (var i = 0; i < 4; i++) tasks.Add(await app.InsertTaskAsync("erp", contact, SyncStatus.Failed, "boom 13812345678"));

        var outcomes = new List<string>();
        foreach (var id in tasks.Take(3))
        {
            using var scope = app.Services.CreateScope();
            outcomes.Add(await scope.ServiceProvider.GetRequiredService<AlertSyncFailure>().RunAsync(id, default));
        }
        Assert.Equal([SyncAlertStatus.Sent, SyncAlertStatus.Sent, SyncAlertStatus.Suppressed], outcomes);
        Assert.Equal(2, app.WeCom.Alerts.Count);
        Assert.All(app.WeCom.Alerts, a => Assert.Contains("138****5678", a));

        // A minute later the window has room again, and the next alert carries the count of the suppressed one.
        await using (var cmd = app.Database.DataSource.CreateCommand("update sync_alert set sent_at = sent_at - interval '2 minutes'"))
            await cmd.ExecuteNonQueryAsync();
        using (var scope = app.Services.CreateScope())
            Assert.Equal(SyncAlertStatus.Sent, await scope.ServiceProvider.GetRequiredService<AlertSyncFailure>().RunAsync(tasks[3], default));
        Assert.Contains("+1 more failed sync task", app.WeCom.Alerts[^1]);

        // Redelivered (at-least-once): no second message.
        using (var scope = app.Services.CreateScope())
            Assert.Equal(SyncAlertStatus.Sent, await scope.ServiceProvider.GetRequiredService<AlertSyncFailure>().RunAsync(tasks[0], default));
        Assert.Equal(3, app.WeCom.Alerts.Count);
    }
}
