using System.Collections.Concurrent;
using Cdp.Orchestrations;

namespace Cdp.Tests.Orchestrations;

public sealed record StepInput(string Key, int Value);
public sealed record FlakyInput(string Key, int FailTimes);
public sealed record RecordInput(string Key, string Point, string Value);

sealed class AddOne : Activity<StepInput, int>
{
    public override Task<int> RunAsync(StepInput input, CancellationToken cancellationToken)
    {
        Executions.Hit($"{input.Key}:{nameof(AddOne)}:{input.Value}");
        return Task.FromResult(input.Value + 1);
    }
}

sealed class Flaky : Activity<FlakyInput, string>
{
    public override Task<string> RunAsync(FlakyInput input, CancellationToken cancellationToken)
    {
        var attempt = Executions.Hit(input.Key);
        if (attempt <= input.FailTimes) throw new InvalidOperationException($"attempt {attempt} failed");
        return Task.FromResult($"ok after {attempt}");
    }
}

sealed class Record : Activity<RecordInput, string>
{
    public static readonly ConcurrentDictionary<string, string> Seen = new();

    public override Task<string> RunAsync(RecordInput input, CancellationToken cancellationToken)
    {
        Seen[$"{input.Key}:{input.Point}"] = input.Value;
        return Task.FromResult(input.Value);
    }
}

/// <summary>Three activities in a row: 0 → 1 → 2 → 3.</summary>
sealed class Chain : Orchestrator<string?, int>
{
    public override async Task<int> RunAsync(IOrchestrationContext context, string? input)
    {
        var value = 0;
        for (var step = 1; step <= 3; step++)
        {
            value = await context.CallActivityAsync<int>(nameof(AddOne), new StepInput(context.InstanceId, value));
            context.SetCustomStatus(new { step });
        }
        return value;
    }
}

sealed class Retrying : Orchestrator<FlakyInput, string>
{
    public override Task<string> RunAsync(IOrchestrationContext context, FlakyInput input) =>
        context.CallActivityAsync<string>(nameof(Flaky), input, new RetryPolicy(3, TimeSpan.FromMilliseconds(100)));
}

sealed class Catching : Orchestrator<FlakyInput, string>
{
    public override async Task<string> RunAsync(IOrchestrationContext context, FlakyInput input)
    {
        try
        {
            return await context.CallActivityAsync<string>(nameof(Flaky), input, new RetryPolicy(2, TimeSpan.FromMilliseconds(50)));
        }
        catch (TaskFailedException ex) when (ex.FailureDetails.IsCausedBy<InvalidOperationException>())
        {
            return $"caught {ex.TaskName}: {ex.FailureDetails.ErrorMessage}";
        }
    }
}

/// <summary>Sleeps on a durable timer for the input's milliseconds; returns the replay time after it.</summary>
sealed class Sleeper : Orchestrator<int, DateTime>
{
    public override async Task<DateTime> RunAsync(IOrchestrationContext context, int milliseconds)
    {
        await context.CreateTimer(context.CurrentUtcDateTime.AddMilliseconds(milliseconds), CancellationToken.None);
        return context.CurrentUtcDateTime;
    }
}

/// <summary>Waits for "Approved" up to the input's milliseconds.</summary>
sealed class Approval : Orchestrator<int, string>
{
    public override async Task<string> RunAsync(IOrchestrationContext context, int timeoutMs)
    {
        context.SetCustomStatus("waiting");
        try
        {
            var by = await context.WaitForExternalEvent<string>("Approved", TimeSpan.FromMilliseconds(timeoutMs));
            return $"approved by {by}";
        }
        catch (TaskCanceledException)
        {
            return "timed out";
        }
    }
}

/// <summary>Sleeps first, then waits: an event raised during the sleep must be buffered for the wait.</summary>
sealed class LateApproval : Orchestrator<int, string>
{
    public override async Task<string> RunAsync(IOrchestrationContext context, int sleepMs)
    {
        await context.CreateTimer(context.CurrentUtcDateTime.AddMilliseconds(sleepMs), CancellationToken.None);
        var first = await context.WaitForExternalEvent<string>("Approved", TimeSpan.FromSeconds(10));
        var second = await context.WaitForExternalEvent<string>("Approved", TimeSpan.FromSeconds(10));
        return $"{first},{second}";
    }
}

sealed class Parent : Orchestrator<string?, int>
{
    public override async Task<int> RunAsync(IOrchestrationContext context, string? input) =>
        10 * await context.CallSubOrchestratorAsync<int>(nameof(Chain), null);
}

/// <summary>Records what it sees at each point, in every episode, to check replays see the same values.</summary>
sealed class GuidRecorder : Orchestrator<string?, string[]>
{
    public static readonly ConcurrentQueue<(string Instance, bool Replaying, DateTime Time, Guid Guid)> Observed = new();

    public override async Task<string[]> RunAsync(IOrchestrationContext context, string? input)
    {
        var first = context.NewGuid();
        Observed.Enqueue((context.InstanceId, context.IsReplaying, context.CurrentUtcDateTime, first));
        await context.CallActivityAsync<string>(nameof(Record), new RecordInput(context.InstanceId, "first", first.ToString()));
        var second = context.NewGuid();
        await context.CallActivityAsync<string>(nameof(Record), new RecordInput(context.InstanceId, "second", second.ToString()));
        return [first.ToString(), second.ToString()];
    }
}

/// <summary>Deliberately non-deterministic: asks for a different activity once it has run before.</summary>
sealed class Flipper : Orchestrator<string?, string>
{
    public override async Task<string> RunAsync(IOrchestrationContext context, string? input)
    {
        if (Executions.Hit($"{context.InstanceId}:episodes") == 1)
            await context.CallActivityAsync<int>(nameof(AddOne), new StepInput(context.InstanceId, 0));
        else
            await context.CallActivityAsync<string>(nameof(Flaky), new FlakyInput(context.InstanceId, 0));
        return "unreachable";
    }
}

/// <summary>Calls a sub-orchestration that fails and reports what it caught.</summary>
sealed class FailingParent : Orchestrator<string, string>
{
    public override async Task<string> RunAsync(IOrchestrationContext context, string key)
    {
        try
        {
            await context.CallSubOrchestratorAsync<string>(nameof(Retrying), new FlakyInput(key, 100));
            return "no failure";
        }
        catch (TaskFailedException ex)
        {
            return $"{ex.TaskName} failed: {ex.FailureDetails.ErrorType}";
        }
    }
}
