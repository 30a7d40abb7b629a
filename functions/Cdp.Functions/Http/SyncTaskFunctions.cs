using Cdp.Functions.Durable;
using Cdp.Shared.Api;
using Cdp.Shared.Sync;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;

namespace Cdp.Functions.Http;

public sealed class SyncTaskFunctions(SyncTaskStore store, RetrySyncTask retry, DurableClientScope durable)
{
    [Function("ListSyncTasks")]
    public async Task<IResult> List(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "sync-tasks")] HttpRequest request, FunctionContext context) =>
        HttpBodies.Json(await store.ListAsync(
            SyncStatus.Parse(request.Query["status"].FirstOrDefault()), HttpBodies.QueryInt(request, "limit") ?? 100, context.CancellationToken));

    [Function("GetSyncTask")]
    public async Task<IResult> Get(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "sync-tasks/{id:guid}")] HttpRequest request, Guid id, FunctionContext context) =>
        HttpBodies.Json(await store.GetAsync(id, context.CancellationToken) ?? throw new ApiProblemException(ApiProblem.NotFound($"No sync task {id}.")));

    [Function("RetrySyncTask")]
    public async Task<IResult> Retry(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "sync-tasks/{id:guid}/retry")] HttpRequest request, Guid id,
        [DurableClient] DurableTaskClient client, FunctionContext context)
    {
        using var scope = durable.Use(client);
        return HttpBodies.At(StatusCodes.Status202Accepted, $"/api/sync-tasks/{id}", await retry.RunAsync(id, context.CancellationToken));
    }
}
