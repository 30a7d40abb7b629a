using Cdp.Shared.Access;
using Microsoft.AspNetCore.Http;
using Cdp.Shared.Api;
using Cdp.Shared.Customers;

namespace Cdp.Shared.Sync;

/// <summary>What staff change in the sales sidebar (saved at once, pushed by sync-then-retry) and the sync tasks.</summary>
public static class SyncRoutes
{
    public const string TagsPath = "contacts/{contactId:guid}/tags";
    public const string FollowUpsPath = "contacts/{contactId:guid}/follow-ups";
    public const string SyncTasksPath = "sync-tasks";
    public const string SyncTaskPath = "sync-tasks/{id:guid}";
    public const string RetryPath = "sync-tasks/{id:guid}/retry";
    public const string ContactSyncTasksPath = "contacts/{contactId:guid}/sync-tasks";

    public static readonly ApiRoute SaveContactTags = ApiRoute.Put(nameof(SaveContactTags), TagsPath, Permissions.CustomersWrite, async call =>
    {
        var contactId = call.RouteId("contactId");
        await call.EnsureVisibleAsync(CustomerRef.ContactKind, contactId);
        var body = await call.JsonAsync<TagsBody>();
        var saved = await call.Service<SaveContactTags>().RunAsync(contactId, body.Tags, call.Actor, call.Caller.StaffUserId, call.Aborted);
        return ApiResults.At(StatusCodes.Status202Accepted, $"/api/sync-tasks/{saved.SyncTaskId}", saved);
    });

    public static readonly ApiRoute AddFollowUp = ApiRoute.Post(nameof(AddFollowUp), FollowUpsPath, Permissions.CustomersWrite, async call =>
    {
        var contactId = call.RouteId("contactId");
        await call.EnsureVisibleAsync(CustomerRef.ContactKind, contactId);
        var body = await call.JsonAsync<FollowUpBody>();
        var saved = await call.Service<AddFollowUp>().RunAsync(contactId, body.Content, body.Channel, body.OccurredAt, call.Actor, call.Caller.StaffUserId, call.Aborted);
        return ApiResults.At(StatusCodes.Status201Created, $"/api/sync-tasks/{saved.SyncTaskId}", saved);
    });

    /// <summary>
    /// The sync state of a contact's latest changes, for whoever may see the contact (the sidebar's salesperson holds
    /// customers:read, not sync:manage); newest first, at most <c>limit</c> (default 5). A failed one is retried by saving again.
    /// </summary>
    public static readonly ApiRoute ListContactSyncTasks = ApiRoute.Get(nameof(ListContactSyncTasks), ContactSyncTasksPath, Permissions.CustomersRead, async call =>
    {
        var contactId = call.RouteId("contactId");
        await call.EnsureVisibleAsync(CustomerRef.ContactKind, contactId);
        return ApiResults.Json(await call.Service<SyncTaskStore>().ListForEntityAsync(CustomerRef.ContactKind, contactId, call.QueryInt("limit") ?? 5, call.Aborted));
    });

    public static readonly ApiRoute ListSyncTasks = ApiRoute.Get(nameof(ListSyncTasks), SyncTasksPath, Permissions.SyncManage, async call =>
        ApiResults.Json(await call.Service<SyncTaskStore>().ListAsync(SyncStatus.Parse(call.Query("status")), call.QueryInt("limit") ?? 100, call.Aborted)));

    public static readonly ApiRoute GetSyncTask = ApiRoute.Get(nameof(GetSyncTask), SyncTaskPath, Permissions.SyncManage, async call =>
    {
        var id = call.RouteId("id");
        return ApiResults.Json(await call.Service<SyncTaskStore>().GetAsync(id, call.Aborted)
            ?? throw new ApiProblemException(ApiProblem.NotFound($"No sync task {id}.")));
    });

    public static readonly ApiRoute RetrySyncTask = ApiRoute.Post(nameof(RetrySyncTask), RetryPath, Permissions.SyncManage, async call =>
    {
        var id = call.RouteId("id");
        return ApiResults.At(StatusCodes.Status202Accepted, $"/api/sync-tasks/{id}", await call.Service<RetrySyncTask>().RunAsync(id, call.Actor, call.Aborted));
    });

    public static IEnumerable<ApiRoute> All => [SaveContactTags, AddFollowUp, ListContactSyncTasks, ListSyncTasks, GetSyncTask, RetrySyncTask];
}
