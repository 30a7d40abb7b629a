using Cdp.Shared.Access;
using Cdp.Shared.Api;
using Npgsql;

namespace Cdp.Shared.Sync;

/// <summary>
/// POST /api/sync-tasks/{id}/retry: a failed task goes back to pending, audited in the same transaction, and its
/// orchestration runs again.
/// </summary>
public sealed class RetrySyncTask(NpgsqlDataSource db, SyncTaskStore store, ISyncRunner runner)
{
    public async Task<SyncTaskView> RunAsync(Guid id, AuditActor actor, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(actor);
        SyncTaskView? reset;
        await using (var conn = await db.OpenConnectionAsync(ct))
        await using (var tx = await conn.BeginTransactionAsync(ct))
        {
            reset = await SyncTaskStore.ResetFailedAsync(conn, tx, id, ct);
            if (reset is not null)
            {
                await AuditLog.WriteAsync(conn, tx, actor.Did("sync_task.retry", "sync_task", id.ToString(),
                    new { target = reset.Target, generation = reset.Generation }));
                await tx.CommitAsync(ct);
            }
        }
        if (reset is null)
        {
            var task = await store.GetAsync(id, ct) ?? throw new ApiProblemException(ApiProblem.NotFound($"No sync task {id}."));
            throw new ApiProblemException(ApiProblem.Conflict($"Sync task {id} is {task.Status}; only a failed task can be retried."));
        }
        await runner.StartAsync(id, ct);
        return reset;
    }
}
