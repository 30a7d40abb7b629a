using Cdp.Shared.Sync;

namespace Cdp.Orchestrations.Sync;

public sealed record PushSyncTaskInput(Guid SyncTaskId, SyncRetrySchedule Schedule);

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
