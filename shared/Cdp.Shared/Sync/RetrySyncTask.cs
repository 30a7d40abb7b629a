using Cdp.Shared.Api;

namespace Cdp.Shared.Sync;

/// <summary>POST /api/sync-tasks/{id}/retry: a failed task goes back to pending and its orchestration runs again.</summary>
public sealed class RetrySyncTask(SyncTaskStore store, ISyncRunner runner)
{
    public async Task<SyncTaskView> RunAsync(Guid id, CancellationToken ct)
    {
        var reset = await store.ResetFailedAsync(id, ct);
        if (reset is null)
        {
            var task = await store.GetAsync(id, ct) ?? throw new ApiProblemException(ApiProblem.NotFound($"No sync task {id}."));
            throw new ApiProblemException(ApiProblem.Conflict($"Sync task {id} is {task.Status}; only a failed task can be retried."));
        }
        await runner.StartAsync(id, ct);
        return reset;
    }
}
