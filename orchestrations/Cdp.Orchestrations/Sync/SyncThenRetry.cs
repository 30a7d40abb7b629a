using Cdp.Shared.Sync;
using Cdp.Shared.Telemetry;

namespace Cdp.Orchestrations.Sync;

/// <summary>
/// The run of one sync task; the schedule is fixed when the run starts so every replay sees the same numbers.
/// <paramref name="TraceParent"/>: the trace of the change (W3C), passed on to the push so its WeCom call joins it.
/// </summary>
public sealed record SyncThenRetryInput(Guid SyncTaskId, SyncRetrySchedule Schedule, string? TraceParent = null) : ITraceCarrier;

public sealed record SyncThenRetryOutput(Guid SyncTaskId, string Status, string? Note);

/// <summary>
/// Seed 000's sync-then-retry, one instance per task (<c>sync-{taskId}</c>): push with durable retries; after the last
/// attempt mark the task failed and alert ops. Each task has its own instance, so a task waiting for its next attempt
/// never holds up another contact's sync or a newer change of the same contact.
/// </summary>
public sealed class SyncThenRetry : Orchestrator<SyncThenRetryInput, SyncThenRetryOutput>
{
    public static string InstanceIdOf(Guid syncTaskId) => $"sync-{syncTaskId}";

    public override async Task<SyncThenRetryOutput> RunAsync(IOrchestrationContext context, SyncThenRetryInput input)
    {
        var schedule = input.Schedule;
        var retry = new RetryPolicy(schedule.MaxAttempts, schedule.FirstRetryInterval, schedule.BackoffCoefficient, schedule.MaxRetryInterval);
        string error;
        try
        {
            var outcome = await context.CallActivityAsync<PushOutcome>(nameof(PushSyncTask), new PushSyncTaskInput(input.SyncTaskId, schedule, input.TraceParent), retry);
            if (!outcome.Rejected) return new SyncThenRetryOutput(input.SyncTaskId, outcome.Status, outcome.Note);
            error = outcome.RejectedBecause!;
        }
        catch (TaskFailedException e)
        {
            error = e.FailureDetails.ErrorMessage;
        }

        context.SetCustomStatus("failed; alerting");
        await context.CallActivityAsync<bool>(nameof(MarkSyncTaskFailed), new MarkSyncTaskFailedInput(input.SyncTaskId, error));
        // The alert is best effort: a robot that stays down must not leave the run (and a re-drive) hanging.
        try
        {
            await context.CallActivityAsync<string>(nameof(SendSyncAlert), input.SyncTaskId,
                new RetryPolicy(3, schedule.FirstRetryInterval, 2.0, schedule.MaxRetryInterval));
        }
        catch (TaskFailedException)
        {
            context.SetCustomStatus("failed; alert could not be sent");
        }
        return new SyncThenRetryOutput(input.SyncTaskId, SyncStatus.Failed, error);
    }
}
