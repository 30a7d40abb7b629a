using Cdp.Shared.Sync;
using Cdp.Shared.Telemetry;

namespace Cdp.Orchestrations.Sync;

/// <param name="TraceParent">The trace of the change being pushed (the orchestration's input passes it on).</param>
public sealed record PushSyncTaskInput(Guid SyncTaskId, SyncRetrySchedule Schedule, string? TraceParent = null) : ITraceCarrier;

public sealed record MarkSyncTaskFailedInput(Guid SyncTaskId, string Error);

/// <summary>One push attempt; throws (after recording the failure on the task) so the orchestration's retry policy applies.</summary>
public sealed class PushSyncTask(PushSyncChange push) : Activity<PushSyncTaskInput, PushOutcome>
{
    public override Task<PushOutcome> RunAsync(PushSyncTaskInput input, CancellationToken cancellationToken) =>
        push.RunAsync(input.SyncTaskId, input.Schedule, cancellationToken);
}

public sealed class MarkSyncTaskFailed(SyncTaskStore store) : Activity<MarkSyncTaskFailedInput, bool>
{
    public override async Task<bool> RunAsync(MarkSyncTaskFailedInput input, CancellationToken cancellationToken)
    {
        await store.MarkFailedAsync(input.SyncTaskId, SyncRules.Redact(input.Error), cancellationToken);
        return true;
    }
}

public sealed class SendSyncAlert(AlertSyncFailure alert) : Activity<Guid, string>
{
    public override Task<string> RunAsync(Guid input, CancellationToken cancellationToken) =>
        alert.RunAsync(input, cancellationToken);
}
