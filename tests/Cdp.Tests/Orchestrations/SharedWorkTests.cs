using System.Diagnostics;
using Cdp.Orchestrations;
using Cdp.Tests.Support;

namespace Cdp.Tests.Orchestrations;

public sealed class SharedWorkTests(PostgresDatabase pg) : IClassFixture<PostgresDatabase>
{
    [Fact]
    public async Task Two_workers_share_fifty_instances_and_run_every_activity_once()
    {
        await using var kit = new OrchestrationTestKit(pg.DataSource);
        var ids = Enumerable.Range(0, 50).Select(i => $"shared-{i}-{Guid.NewGuid():N}").ToList();
        foreach (var id in ids) await kit.Client.StartAsync(nameof(Chain), null, id);
        await kit.StartWorker(id: "worker-a");
        await kit.StartWorker(id: "worker-b");

        foreach (var id in ids)
            Assert.Equal(OrchestrationRuntimeStatus.Completed, (await kit.Client.WaitForCompletionAsync(id, TimeSpan.FromSeconds(30))).RuntimeStatus);

        foreach (var id in ids)
            for (var v = 0; v < 3; v++) Assert.Equal(1, Executions.Of($"{id}:{nameof(AddOne)}:{v}"));
        Assert.All(ids, id => Assert.Equal(3, (kit.Client.GetStatusAsync(id).Result)!.ReadOutputAs<int>()));
    }

    [Fact]
    public async Task A_dead_workers_claim_is_taken_over_after_the_lease_and_finished_activities_are_not_rerun()
    {
        await using var kit = new OrchestrationTestKit(pg.DataSource);
        var options = OrchestrationTestKit.Fast();
        options.LeaseDuration = TimeSpan.FromSeconds(1.5);
        var id = "crash-" + Guid.NewGuid().ToString("N");
        await kit.Client.StartAsync(nameof(Chain), null, id);

        // Worker A is driven by hand: episode, first activity, episode, then it claims the second activity and "dies".
        var a = kit.Worker(options, "worker-a");
        await Step(a, "orchestrator");
        await Step(a, "activity");
        await Step(a, "orchestrator");
        var abandoned = Assert.Single(await a.ClaimAsync(10, ["activity"]));
        var clock = Stopwatch.StartNew();
        Assert.Equal(1, abandoned.Seq);

        await kit.StartWorker(options, "worker-b");
        var status = await kit.Client.WaitForCompletionAsync(id, TimeSpan.FromSeconds(10));

        Assert.Equal(OrchestrationRuntimeStatus.Completed, status.RuntimeStatus);
        Assert.Equal(3, status.ReadOutputAs<int>());
        Assert.True(clock.ElapsedMilliseconds >= 1200, $"taken over {clock.ElapsedMilliseconds} ms after the claim, before the lease ran out");
        for (var v = 0; v < 3; v++) Assert.Equal(1, Executions.Of($"{id}:{nameof(AddOne)}:{v}"));
    }

    [Fact]
    public async Task An_activity_whose_worker_died_after_running_it_runs_again_and_the_late_result_is_discarded()
    {
        await using var kit = new OrchestrationTestKit(pg.DataSource);
        var options = OrchestrationTestKit.Fast();
        options.LeaseDuration = TimeSpan.FromSeconds(1);
        var id = "rerun-" + Guid.NewGuid().ToString("N");
        await kit.Client.StartAsync(nameof(Chain), null, id);
        var a = kit.Worker(options, "worker-a");
        await Step(a, "orchestrator");
        var claimed = Assert.Single(await a.ClaimAsync(10, ["activity"]));

        await kit.StartWorker(options, "worker-b");
        var status = await kit.Client.WaitForCompletionAsync(id, TimeSpan.FromSeconds(10));
        // A "wakes up" and reports: its lease is gone, so its result must not reach the history a second time.
        await a.RunActivityAsync(claimed);

        Assert.Equal(OrchestrationRuntimeStatus.Completed, status.RuntimeStatus);
        Assert.Equal(2, Executions.Of($"{id}:{nameof(AddOne)}:0")); // at least once: the crash case
        Assert.Equal(1, await kit.Count(
            "select count(*) from orchestration_history where instance_id = $1 and kind = 'ActivityCompleted' and seq = 0", id));
    }

    static async Task Step(Cdp.Orchestrations.Engine.OrchestrationWorker worker, string kind)
    {
        var item = Assert.Single(await worker.ClaimAsync(10, [kind]));
        await worker.ProcessAsync(item);
    }
}
