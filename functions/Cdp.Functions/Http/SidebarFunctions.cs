using Cdp.Functions.Durable;
using Cdp.Shared.Sync;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;

namespace Cdp.Functions.Http;

/// <summary>What staff change in the sales sidebar: saved at once, pushed by the sync-then-retry orchestration.</summary>
public sealed class SidebarFunctions(SaveContactTags save, AddFollowUp add, DurableClientScope durable)
{
    [Function("SaveContactTags")]
    public async Task<IResult> SaveTags(
        [HttpTrigger(AuthorizationLevel.Function, "put", Route = "contacts/{contactId:guid}/tags")] HttpRequest request, Guid contactId,
        [DurableClient] DurableTaskClient client, FunctionContext context)
    {
        using var scope = durable.Use(client);
        var body = await HttpBodies.ReadJsonAsync<TagsBody>(request, context.CancellationToken);
        var saved = await save.RunAsync(contactId, body.Tags, context.CancellationToken);
        return HttpBodies.At(StatusCodes.Status202Accepted, $"/api/sync-tasks/{saved.SyncTaskId}", saved);
    }

    [Function("AddFollowUp")]
    public async Task<IResult> AddFollowUp(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "contacts/{contactId:guid}/follow-ups")] HttpRequest request, Guid contactId,
        [DurableClient] DurableTaskClient client, FunctionContext context)
    {
        using var scope = durable.Use(client);
        var body = await HttpBodies.ReadJsonAsync<FollowUpBody>(request, context.CancellationToken);
        var saved = await add.RunAsync(contactId, body.Content, body.Channel, body.OccurredAt, context.CancellationToken);
        return HttpBodies.At(StatusCodes.Status201Created, $"/api/sync-tasks/{saved.SyncTaskId}", saved);
    }
}
