using System.Net;
using System.Net.Http.Json;
using Cdp.Orchestrations;
using Cdp.Orchestrations.Sync;
using Cdp.Shared.Sync;
using Cdp.Tests.Support;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Cdp.Tests.Sync;

/// <summary>
/// A crash between saving a change (with its sync task) and starting the push must not lose the push: housekeeping
/// finds the task pending without an orchestration and starts it.
/// </summary>
public sealed class StrandedSyncTaskTests(StrandedSyncTaskTests.App app) : IClassFixture<StrandedSyncTaskTests.App>
{
    /// <summary>The sync app whose orchestration start can be made to fail, as if the process died right after the commit.</summary>
    public sealed class App : SyncApp
    {
        public volatile bool CrashOnStart;

        protected override void ConfigureServices(IServiceCollection services)
        {
            services.AddSingleton<OrchestratedSyncRunner>();
            services.Replace(ServiceDescriptor.Singleton<ISyncRunner>(sp => new CrashingRunner(this, sp.GetRequiredService<OrchestratedSyncRunner>())));
        }

        sealed class CrashingRunner(App app, OrchestratedSyncRunner inner) : ISyncRunner
        {
            public Task StartAsync(Guid syncTaskId, CancellationToken ct) =>
                app.CrashOnStart ? throw new TimeoutException("the process died before starting the push") : inner.StartAsync(syncTaskId, ct);
        }
    }

    [Fact]
    public async Task Housekeeping_starts_the_push_of_a_task_left_pending_by_a_crash_after_the_commit()
    {
        var (contact, external) = await app.NewContactAsync();
        app.CrashOnStart = true;
        using (var response = await app.Client.PutAsJsonAsync($"/api/contacts/{contact}/tags", new { tags = new[] { "断点续推" } }))
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);   // the caller is told to retry...
        app.CrashOnStart = false;

        // ...but the save committed: the tags are there and the task waits with nothing to push it.
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        var taskId = await conn.QuerySingleAsync<Guid>("select sync_task_id from sync_task where entity_id = @contact", new { contact });
        Assert.Equal(SyncStatus.Pending, (await app.TaskAsync(taskId)).Status);
        var housekeeping = app.Services.GetRequiredService<Housekeeping>();
        await housekeeping.RunAsync();
        Assert.Equal(SyncStatus.Pending, (await app.TaskAsync(taskId)).Status);   // too young: it may be about to start

        await conn.ExecuteAsync("update sync_task set updated_at = now() - interval '2 minutes' where sync_task_id = @taskId", new { taskId });
        await housekeeping.RunAsync();

        await app.UntilStatusAsync(taskId, SyncStatus.Succeeded);
        Assert.Equal(["断点续推"], app.WeCom.TagNamesOf(external!, CdpBackend.SalesUserId, SyncApp.TagGroup));
        Assert.Equal(0, await app.Services.GetRequiredService<RedriveStrandedSyncTasks>().RunAsync(CancellationToken.None));
    }
}
