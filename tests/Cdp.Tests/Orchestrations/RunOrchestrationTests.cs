using Cdp.Orchestrations;
using Cdp.Tests.Support;

namespace Cdp.Tests.Orchestrations;

public sealed class RunOrchestrationTests(PostgresDatabase pg) : IClassFixture<PostgresDatabase>
{
    [Fact]
    public async Task A_three_activity_chain_completes_with_its_output_and_status()
    {
        await using var kit = new OrchestrationTestKit(pg.DataSource);
        await kit.StartWorker();
        var id = "chain-" + Guid.NewGuid().ToString("N");

        var status = await kit.Run(nameof(Chain), "hello", id);

        Assert.Equal(OrchestrationRuntimeStatus.Completed, status.RuntimeStatus);
        Assert.Equal(nameof(Chain), status.Name);
        Assert.Equal(id, status.InstanceId);
        Assert.Equal(3, status.ReadOutputAs<int>());
        Assert.Equal("hello", status.Input!.Value.GetString());
        Assert.Equal(3, status.CustomStatus!.Value.GetProperty("step").GetInt32());
        Assert.True(status.LastUpdatedTime >= status.CreatedTime);
        for (var v = 0; v < 3; v++) Assert.Equal(1, Executions.Of($"{id}:{nameof(AddOne)}:{v}"));
    }

    [Fact]
    public async Task An_activity_that_fails_twice_succeeds_on_the_third_attempt_after_durable_retry_timers()
    {
        await using var kit = new OrchestrationTestKit(pg.DataSource);
        await kit.StartWorker();
        var key = "flaky-" + Guid.NewGuid().ToString("N");

        var status = await kit.Run(nameof(Retrying), new FlakyInput(key, FailTimes: 2));

        Assert.Equal(OrchestrationRuntimeStatus.Completed, status.RuntimeStatus);
        Assert.Equal("ok after 3", status.ReadOutputAs<string>());
        Assert.Equal(3, Executions.Of(key));
        Assert.Equal(2, await kit.Count(
            "select count(*) from orchestration_history where instance_id = $1 and kind = 'TimerCreated'", status.InstanceId));
    }

    [Fact]
    public async Task An_orchestrator_catches_TaskFailedException_once_the_attempts_are_spent()
    {
        await using var kit = new OrchestrationTestKit(pg.DataSource);
        await kit.StartWorker();
        var key = "always-" + Guid.NewGuid().ToString("N");

        var status = await kit.Run(nameof(Catching), new FlakyInput(key, FailTimes: 100));

        Assert.Equal(OrchestrationRuntimeStatus.Completed, status.RuntimeStatus);
        Assert.Equal($"caught {nameof(Flaky)}: attempt 2 failed", status.ReadOutputAs<string>());
        Assert.Equal(2, Executions.Of(key));
    }

    [Fact]
    public async Task An_uncaught_failure_after_the_last_attempt_fails_the_instance_with_the_error()
    {
        await using var kit = new OrchestrationTestKit(pg.DataSource);
        await kit.StartWorker();
        var key = "fatal-" + Guid.NewGuid().ToString("N");

        var status = await kit.Run(nameof(Retrying), new FlakyInput(key, FailTimes: 100));

        Assert.Equal(OrchestrationRuntimeStatus.Failed, status.RuntimeStatus);
        Assert.Equal(typeof(TaskFailedException).FullName, status.FailureDetails!.ErrorType);
        Assert.Contains("attempt 3 failed", status.FailureDetails.ErrorMessage);
        Assert.Equal(3, Executions.Of(key));
        Assert.Equal(0, await kit.Count("select count(*) from orchestration_work where instance_id = $1", status.InstanceId));
    }

    [Fact]
    public async Task A_sub_orchestration_result_flows_to_the_parent()
    {
        await using var kit = new OrchestrationTestKit(pg.DataSource);
        await kit.StartWorker();

        var status = await kit.Run(nameof(Parent), null);

        Assert.Equal(OrchestrationRuntimeStatus.Completed, status.RuntimeStatus);
        Assert.Equal(30, status.ReadOutputAs<int>());
        var child = await kit.Client.GetStatusAsync($"{status.InstanceId}:0");
        Assert.Equal(OrchestrationRuntimeStatus.Completed, child!.RuntimeStatus);
        Assert.Equal(nameof(Chain), child.Name);
    }

    [Fact]
    public async Task A_failed_sub_orchestration_surfaces_in_the_parent_as_TaskFailedException()
    {
        await using var kit = new OrchestrationTestKit(pg.DataSource);
        await kit.StartWorker();
        var key = "child-fails-" + Guid.NewGuid().ToString("N");

        var status = await kit.Run(nameof(FailingParent), key);

        Assert.Equal(OrchestrationRuntimeStatus.Completed, status.RuntimeStatus);
        Assert.Equal($"{nameof(Retrying)} failed: {typeof(TaskFailedException).FullName}", status.ReadOutputAs<string>());
        Assert.Equal(OrchestrationRuntimeStatus.Failed, (await kit.Client.GetStatusAsync($"{status.InstanceId}:0"))!.RuntimeStatus);
        Assert.Equal(3, Executions.Of(key));
    }

    [Fact]
    public async Task Replays_see_the_same_time_guid_and_IsReplaying_turns_true()
    {
        await using var kit = new OrchestrationTestKit(pg.DataSource);
        await kit.StartWorker();

        var status = await kit.Run(nameof(GuidRecorder), null);

        var output = status.ReadOutputAs<string[]>()!;
        Assert.Equal(output[0], Record.Seen[$"{status.InstanceId}:first"]);
        Assert.Equal(output[1], Record.Seen[$"{status.InstanceId}:second"]);
        Assert.NotEqual(output[0], output[1]);
        var seen = GuidRecorder.Observed.Where(o => o.Instance == status.InstanceId).ToList();
        Assert.Equal(3, seen.Count); // an episode per event: started, first result, second result
        Assert.False(seen[0].Replaying);
        Assert.All(seen.Skip(1), o => Assert.True(o.Replaying));
        Assert.Single(seen.Select(o => o.Guid).Distinct());
        Assert.Single(seen.Select(o => o.Time).Distinct());
        Assert.Equal(5, Guid.Parse(output[0]).Version);
    }

    [Fact]
    public async Task A_changed_call_for_the_same_history_fails_the_instance_as_non_deterministic()
    {
        await using var kit = new OrchestrationTestKit(pg.DataSource);
        await kit.StartWorker();

        var status = await kit.Run(nameof(Flipper), null);

        Assert.Equal(OrchestrationRuntimeStatus.Failed, status.RuntimeStatus);
        Assert.Equal(typeof(NonDeterministicOrchestrationException).FullName, status.FailureDetails!.ErrorType);
        Assert.Contains($"history has ActivityScheduled '{nameof(AddOne)}'", status.FailureDetails.ErrorMessage);
        Assert.Contains($"asks for ActivityScheduled '{nameof(Flaky)}'", status.FailureDetails.ErrorMessage);
    }

    [Fact]
    public async Task Starting_the_same_instance_id_twice_runs_it_once()
    {
        await using var kit = new OrchestrationTestKit(pg.DataSource);
        var id = "singleton-" + Guid.NewGuid().ToString("N");

        var starts = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => kit.Client.StartAsync(nameof(Chain), null, id)));
        await kit.StartWorker();
        Assert.All(starts, s => Assert.Equal(id, s));
        var status = await kit.Client.WaitForCompletionAsync(id, TimeSpan.FromSeconds(15));
        Assert.Equal(await kit.Client.StartAsync(nameof(Chain), null, id), id); // finished: starts afresh
        var again = await kit.Client.WaitForCompletionAsync(id, TimeSpan.FromSeconds(15));

        Assert.Equal(OrchestrationRuntimeStatus.Completed, status.RuntimeStatus);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, again.RuntimeStatus);
        for (var v = 0; v < 3; v++) Assert.Equal(2, Executions.Of($"{id}:{nameof(AddOne)}:{v}"));
        Assert.Equal(1, await kit.Count("select count(*) from orchestration_history where instance_id = $1 and kind = 'Started'", id));
    }

    [Fact]
    public async Task An_unknown_orchestrator_fails_its_instance()
    {
        await using var kit = new OrchestrationTestKit(pg.DataSource);
        await kit.StartWorker();

        var status = await kit.Run("NoSuchOrchestrator", null);

        Assert.Equal(OrchestrationRuntimeStatus.Failed, status.RuntimeStatus);
        Assert.Contains("NoSuchOrchestrator", status.FailureDetails!.ErrorMessage);
    }
}
