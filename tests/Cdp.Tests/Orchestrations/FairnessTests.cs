using System.Collections.Concurrent;
using Cdp.Orchestrations;
using Cdp.Tests.Support;

namespace Cdp.Tests.Orchestrations;

/// <summary>
/// Running chains must not starve new instances: a claimed episode runs in the next batch whatever the slots are
/// doing (the slots limit executing activities only). Ordering and completion only; the waits are generous.
/// </summary>
public sealed class FairnessTests(PostgresDatabase pg) : IClassFixture<PostgresDatabase>
{
    [Fact]
    public async Task A_new_instances_first_episode_runs_while_every_slot_holds_a_blocked_activity()
    {
        await using var kit = new OrchestrationTestKit(pg.DataSource);
        var options = OrchestrationTestKit.Fast(); // 8 slots
        var gate = "gate-" + Guid.NewGuid().ToString("N");
        var gated = new List<string>();
        for (var i = 0; i < options.Concurrency + 4; i++) gated.Add(await kit.Client.StartAsync(nameof(Gated), gate));
        await kit.StartWorker(options);
        await Eventually.Until(() => Gate.Entered(gate) == options.Concurrency, TimeSpan.FromSeconds(30), "every slot blocked");

        var id = await kit.Client.StartAsync(nameof(Chain), null);
        // Still no slot free (the gate is shut), yet the new instance's first episode has run and scheduled its activity.
        await Eventually.Until(async () => await kit.Count(
            "select count(*) from orchestration_history where instance_id = $1 and kind = 'ActivityScheduled' and seq = 0", id) == 1,
            TimeSpan.FromSeconds(30), "the new instance's first episode");
        Assert.Equal(options.Concurrency, Gate.Entered(gate));

        Gate.Open(gate);
        Assert.Equal(3, (await kit.Client.WaitForCompletionAsync(id, TimeSpan.FromSeconds(60))).ReadOutputAs<int>());
        foreach (var g in gated)
            Assert.Equal(OrchestrationRuntimeStatus.Completed, (await kit.Client.WaitForCompletionAsync(g, TimeSpan.FromSeconds(60))).RuntimeStatus);
    }

    [Fact]
    public async Task A_short_chain_started_among_long_chains_that_fill_every_slot_completes_before_all_of_them()
    {
        await using var kit = new OrchestrationTestKit(pg.DataSource);
        var options = OrchestrationTestKit.Fast();
        var tag = Guid.NewGuid().ToString("N");
        var longChains = new List<string>();
        for (var i = 0; i < options.Concurrency; i++) longChains.Add(await kit.Client.StartAsync(nameof(LongChain), 50, $"long-{i}-{tag}"));
        await kit.StartWorker(options);
        await Eventually.Until(async () => await kit.Count(
            "select count(*) from orchestration_history where instance_id like $1 and kind = 'ActivityCompleted'", $"long-%-{tag}") >= options.Concurrency,
            TimeSpan.FromSeconds(30), "the long chains under way");

        var id = await kit.Client.StartAsync(nameof(Chain), null, $"short-{tag}");
        Assert.Equal(3, (await kit.Client.WaitForCompletionAsync(id, TimeSpan.FromSeconds(60))).ReadOutputAs<int>());
        foreach (var l in longChains)
            Assert.Equal(50, (await kit.Client.WaitForCompletionAsync(l, TimeSpan.FromSeconds(120))).ReadOutputAs<int>());

        // Finished first: its three steps did not wait for a long chain to give up its slot.
        Assert.Equal(0, await kit.Count("""
            select count(*) from orchestration_instance l, orchestration_instance s
             where l.instance_id like $1 and s.instance_id = $2 and l.completed_at <= s.completed_at
            """, $"long-%-{tag}", id));
    }
}

/// <summary>Calls <see cref="Gate"/> once.</summary>
sealed class Gated : Orchestrator<string, string>
{
    public override Task<string> RunAsync(IOrchestrationContext context, string input) => context.CallActivityAsync<string>(nameof(Gate), input);
}

/// <summary>Counts <paramref name="input"/> steps of <see cref="Pause"/>, one after another.</summary>
sealed class LongChain : Orchestrator<int, int>
{
    public override async Task<int> RunAsync(IOrchestrationContext context, int input)
    {
        var value = 0;
        while (value < input) value = await context.CallActivityAsync<int>(nameof(Pause), value);
        return value;
    }
}

/// <summary>Adds one after holding its slot a moment, so long chains keep the slots busy.</summary>
sealed class Pause : Activity<int, int>
{
    public override async Task<int> RunAsync(int input, CancellationToken cancellationToken)
    {
        await Task.Delay(10, cancellationToken);
        return input + 1;
    }
}

/// <summary>Holds its slot until the test opens the gate named by its input.</summary>
sealed class Gate : Activity<string, string>
{
    static readonly ConcurrentDictionary<string, TaskCompletionSource> Gates = new();

    public static int Entered(string gate) => Executions.Of($"{gate}:entered");

    public static void Open(string gate) => Of(gate).TrySetResult();

    static TaskCompletionSource Of(string gate) => Gates.GetOrAdd(gate, _ => new(TaskCreationOptions.RunContinuationsAsynchronously));

    public override async Task<string> RunAsync(string input, CancellationToken cancellationToken)
    {
        Executions.Hit($"{input}:entered");
        await Of(input).Task.WaitAsync(cancellationToken);
        return input;
    }
}
