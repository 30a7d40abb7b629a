using Cdp.Shared.Sync;

namespace Cdp.Functions.Local;

/// <summary>What staff change in the sales sidebar: saved at once, pushed by the sync-then-retry orchestration.</summary>
public static class SidebarEndpoints
{
    public static void MapSidebar(this IEndpointRouteBuilder app)
    {
        app.MapPut("/api/contacts/{contactId:guid}/tags", async (Guid contactId, TagsBody body, SaveContactTags save, CancellationToken ct) =>
        {
            var saved = await save.RunAsync(contactId, body.Tags, ct);
            return Results.Accepted($"/api/sync-tasks/{saved.SyncTaskId}", saved);
        });

        app.MapPost("/api/contacts/{contactId:guid}/follow-ups", async (Guid contactId, FollowUpBody body, AddFollowUp add, CancellationToken ct) =>
        {
            var saved = await add.RunAsync(contactId, body.Content, body.Channel, body.OccurredAt, ct);
            return Results.Created($"/api/sync-tasks/{saved.SyncTaskId}", saved);
        });
    }
}
