using Cdp.Orchestrations;
using Cdp.Orchestrations.Engine;
using Cdp.Tests.Support;

namespace Cdp.Tests.Orchestrations;

/// <summary>
/// With the poll interval set to ten minutes, only the wake-ups can move work along within the tests' waits: the
/// in-process signal, Postgres NOTIFY from another connection, and the next due timer or expiring lease.
/// </summary>
public sealed class WakeUpTests(PostgresDatabase pg) : IClassFixture<PostgresDatabase>
{
    static OrchestrationOptions NoPolling(double leaseSeconds = 5)
    {
        var options = OrchestrationTestKit.Fast();
        options.PollInterval = TimeSpan.FromMinutes(10);
        options.LeaseDuration = TimeSpan.FromSeconds(leaseSeconds);
        return options;
    }

    [Fact]
    public async Task A_chain_and_a_sub_orchestration_started_in_this_process_complete_without_polling()
    {
        await using var kit = new OrchestrationTestKit(pg.DataSource);
        await kit.StartWorker(NoPolling());
        await Task.Delay(500); // the worker has looked once and sleeps

        var chain = await kit.Run(nameof(Chain), null, seconds: 30);
        var parent = await kit.Run(nameof(Parent), null, seconds: 30);

        Assert.Equal(3, chain.ReadOutputAs<int>());
        Assert.Equal(30, parent.ReadOutputAs<int>());
    }

    [Fact]
    public async Task Work_created_over_another_connection_wakes_the_worker_through_notify()
    {
        await using var kit = new OrchestrationTestKit(pg.DataSource);
        await kit.StartWorker(NoPolling());
        await Task.Delay(500);
        // Another process's client: no in-process signal reaches the worker, only the NOTIFY sent with its commit.
        var elsewhere = new LocalOrchestrationClient(pg.DataSource);

        var id = await elsewhere.StartAsync(nameof(Chain), null);
        var chain = await elsewhere.WaitForCompletionAsync(id, TimeSpan.FromSeconds(30));
        var approval = await elsewhere.StartAsync(nameof(Approval), 60_000);
        await Eventually.Until(async () => (await elsewhere.GetStatusAsync(approval))!.CustomStatus?.GetString() == "waiting", TimeSpan.FromSeconds(30));
        await elsewhere.RaiseEventAsync(approval, "Approved", "ops");
        var approved = await elsewhere.WaitForCompletionAsync(approval, TimeSpan.FromSeconds(30));

        Assert.Equal(OrchestrationRuntimeStatus.Completed, chain.RuntimeStatus);
        Assert.Equal(3, chain.ReadOutputAs<int>());
        Assert.Equal("approved by ops", approved.ReadOutputAs<string>());
    }

    [Fact]
    public async Task Durable_retry_timers_fire_when_due_without_polling()
    {
        await using var kit = new OrchestrationTestKit(pg.DataSource);
        await kit.StartWorker(NoPolling());
        var key = "flaky-" + Guid.NewGuid().ToString("N");

        var status = await kit.Run(nameof(Retrying), new FlakyInput(key, FailTimes: 2), seconds: 30);

        Assert.Equal("ok after 3", status.ReadOutputAs<string>());
        Assert.Equal(3, Executions.Of(key));
    }

    [Fact]
    public async Task A_chain_whose_worker_died_mid_way_is_taken_over_when_the_lease_runs_out_without_polling()
    {
        await using var kit = new OrchestrationTestKit(pg.DataSource);
        var options = NoPolling(leaseSeconds: 1.5);
        var id = "crash-" + Guid.NewGuid().ToString("N");
        await kit.Client.StartAsync(nameof(Chain), null, id);

        // Worker A runs the first step by hand, then claims the first activity and "dies" holding it.
        var a = kit.Worker(options, "worker-a");
        var episode = Assert.Single(await a.ClaimAsync(10, ["orchestrator"]));
        await a.ProcessAsync(episode);
        Assert.Single(await a.ClaimAsync(10, ["activity"]));

        await kit.StartWorker(options, "worker-b");
        var status = await kit.Client.WaitForCompletionAsync(id, TimeSpan.FromSeconds(30));

        Assert.Equal(OrchestrationRuntimeStatus.Completed, status.RuntimeStatus);
        Assert.Equal(3, status.ReadOutputAs<int>());
        for (var v = 0; v < 3; v++) Assert.Equal(1, Executions.Of($"{id}:{nameof(AddOne)}:{v}"));
    }
}
