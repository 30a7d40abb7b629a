using Cdp.Orchestrations;
using Cdp.Tests.Support;

namespace Cdp.Tests.Orchestrations;

public sealed class PurgeOrchestrationTests(PostgresDatabase pg) : IClassFixture<PostgresDatabase>
{
    [Fact]
    public async Task Purge_removes_finished_instances_older_than_the_date_with_their_history()
    {
        await using var kit = new OrchestrationTestKit(pg.DataSource);
        await kit.StartWorker();
        var done = await kit.Run(nameof(Chain), null);
        var waiting = await kit.Client.StartAsync(nameof(Approval), 60_000);
        await Eventually.Until(async () => (await kit.Client.GetStatusAsync(waiting))!.RuntimeStatus == OrchestrationRuntimeStatus.Running,
            TimeSpan.FromSeconds(5), "running");

        Assert.Equal(0, await kit.Client.PurgeAsync(done.LastUpdatedTime.AddMinutes(-1)));
        Assert.Equal(1, await kit.Client.PurgeAsync(DateTimeOffset.UtcNow.AddMinutes(1)));

        Assert.Null(await kit.Client.GetStatusAsync(done.InstanceId));
        Assert.Equal(0, await kit.Count("select count(*) from orchestration_history where instance_id = $1", done.InstanceId));
        Assert.NotNull(await kit.Client.GetStatusAsync(waiting));
        await kit.Client.TerminateAsync(waiting, null);
    }
}
