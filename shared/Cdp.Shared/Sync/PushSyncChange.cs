using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Cdp.Shared.Sync;

/// <summary>How one attempt ended, when it did not throw.</summary>
public sealed record PushOutcome(string Status, string? Note, string? RejectedBecause = null)
{
    public bool Rejected => RejectedBecause is not null;
}

/// <summary>A failed push attempt (already recorded on the task); the orchestration retries it.</summary>
public sealed class SyncPushFailedException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// One push attempt of a sync task. Pushes of one entity to one target are serialised by a lock and each sends the
/// newest saved state, so a late retry of an older change re-sends the newest state instead of its own; and once a
/// newer change has succeeded, an older task finishes as superseded without pushing at all.
/// </summary>
public sealed partial class PushSyncChange(
    NpgsqlDataSource db, SyncTaskStore store, SyncTargetRegistry targets, IOptions<SyncOptions> options, ILogger<PushSyncChange> logger)
{
    static void Count(string target, string outcome) =>
        Telemetry.CdpTelemetry.SyncOutcomes.Add(1, new KeyValuePair<string, object?>("target", target), new KeyValuePair<string, object?>("outcome", outcome));

    public async Task<PushOutcome> RunAsync(Guid taskId, SyncRetrySchedule schedule, CancellationToken ct)
    {
        var task = await store.BeginAttemptAsync(taskId, ct) ?? throw new SyncRejectedException($"No sync task {taskId}.");
        // A redelivered activity (at-least-once) or a task finished by someone else: nothing more to do.
        if (task.Status is SyncStatus.Succeeded or SyncStatus.Failed)
        {
            Count(task.Target, "skipped");
            return new PushOutcome(task.Status, task.Note);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(options.Value.AttemptTimeout);
        try
        {
            var note = await PushUnderLockAsync(task, timeout.Token);
            LogPushed(logger, task.Id, task.Target, task.Attempts, note ?? "pushed");
            Count(task.Target, "succeeded");
            return new PushOutcome(SyncStatus.Succeeded, note);
        }
        catch (SyncRejectedException e)
        {
            await store.RecordFailureAsync(task.Id, e.Message, nextAttemptIn: null, CancellationToken.None);
            Count(task.Target, "rejected");
            return new PushOutcome(task.Status, null, e.Message);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            var error = e is OperationCanceledException
                ? $"Timeout: the push took longer than {options.Value.AttemptTimeout.TotalSeconds:0.###} s."
                : SyncRules.Redact($"{e.GetType().Name}: {e.Message}");
            var next = schedule.DelayBefore(task.Attempts + 1);
            await store.RecordFailureAsync(task.Id, error, next, CancellationToken.None);
            LogFailed(logger, task.Id, task.Target, task.Attempts, schedule.MaxAttempts, error);
            Count(task.Target, "failed_attempt");
            throw new SyncPushFailedException($"Sync task {task.Id} attempt {task.Attempts}/{schedule.MaxAttempts} failed: {error}", e);
        }
    }

    async Task<string?> PushUnderLockAsync(SyncTaskView task, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await SyncTaskStore.LockEntityAsync(conn, tx, task.Target, task.EntityId, ct);
        string? note;
        if (await SyncTaskStore.NewerSucceededAsync(conn, tx, task, ct) is { } newer)
        {
            note = $"superseded by newer change {newer}, which already reached the target";
        }
        else
        {
            var target = targets.Get(task.Target);
            var latest = await SyncTaskStore.LatestAsync(conn, tx, task.Target, task.EntityId, ct);
            var result = await target.PushAsync(new SyncChange(task.Id, task.Target, task.EntityType, task.EntityId, latest), ct);
            note = result.Note;
            if (latest.SyncTaskId != task.Id)
                note = (note is null ? "" : note + "; ") + $"sent the newer state of change {latest.SyncTaskId}";
        }
        await SyncTaskStore.SucceedAsync(conn, tx, task.Id, note, ct);
        await tx.CommitAsync(ct);
        return note;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Sync task {TaskId} ({Target}) succeeded on attempt {Attempt}: {Note}")]
    private static partial void LogPushed(ILogger logger, Guid taskId, string target, int attempt, string note);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sync task {TaskId} ({Target}) attempt {Attempt}/{MaxAttempts} failed: {Error}")]
    private static partial void LogFailed(ILogger logger, Guid taskId, string target, int attempt, int maxAttempts, string error);
}
