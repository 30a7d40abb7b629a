using Cdp.Shared.Api;
using Cdp.Shared.Sync;

namespace Cdp.Functions.Local;

public static class SyncTaskEndpoints
{
    public static void MapSyncTasks(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/sync-tasks", async (string? status, int? limit, SyncTaskStore store, CancellationToken ct) =>
            Results.Ok(await store.ListAsync(SyncStatus.Parse(status), limit ?? 100, ct)));

        app.MapGet("/api/sync-tasks/{id:guid}", async (Guid id, SyncTaskStore store, CancellationToken ct) =>
            Results.Ok(await store.GetAsync(id, ct) ?? throw new ApiProblemException(ApiProblem.NotFound($"No sync task {id}."))));

        app.MapPost("/api/sync-tasks/{id:guid}/retry", async (Guid id, RetrySyncTask retry, CancellationToken ct) =>
            Results.Accepted($"/api/sync-tasks/{id}", await retry.RunAsync(id, ct)));
    }
}
