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
    public const string ContactRetryPath = "contacts/{contactId:guid}/sync-tasks/{id:guid}/retry";

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

    /// <summary>
    /// The sidebar's view of its changes: the contact's tag and follow-up pushes, newest first (<c>limit</c> 1-100,
    /// default 20), for whoever may see the contact; sync:manage is not needed for one's own customer.
    /// </summary>
    public static readonly ApiRoute ListContactSyncTasks = ApiRoute.Get(nameof(ListContactSyncTasks), ContactSyncTasksPath, Permissions.CustomersRead, async call =>
    {
        var contactId = call.RouteId("contactId");
        await call.EnsureVisibleAsync(CustomerRef.ContactKind, contactId);
        var limit = call.QueryInt("limit") ?? 20;
        if (limit is < 1 or > 100) throw ApiProblemException.Invalid("limit", "Between 1 and 100.");
        return ApiResults.Json(await call.Service<SyncTaskStore>().ListOfContactAsync(contactId, limit, call.Aborted));
    });

    /// <summary>The sidebar's retry of a failed push of this contact (customers:write); as POST /api/sync-tasks/{id}/retry otherwise.</summary>
    public static readonly ApiRoute RetryContactSyncTask = ApiRoute.Post(nameof(RetryContactSyncTask), ContactRetryPath, Permissions.CustomersWrite, async call =>
    {
        var contactId = call.RouteId("contactId");
        var id = call.RouteId("id");
        await call.EnsureVisibleAsync(CustomerRef.ContactKind, contactId);
        if (await call.Service<SyncTaskStore>().GetAsync(id, call.Aborted) is not { EntityType: CustomerRef.ContactKind } task || task.EntityId != contactId)
            throw new ApiProblemException(ApiProblem.NotFound($"No sync task {id} of contact {contactId}."));
        return ApiResults.At(StatusCodes.Status202Accepted, $"/api/{ContactSyncTasksPath.Replace("{contactId:guid}", contactId.ToString(), StringComparison.Ordinal)}",
            await call.Service<RetrySyncTask>().RunAsync(id, call.Actor, call.Aborted));
    });

    public static IEnumerable<ApiRoute> All =>
        [SaveContactTags, AddFollowUp, ListSyncTasks, GetSyncTask, RetrySyncTask, ListContactSyncTasks, RetryContactSyncTask];
}
