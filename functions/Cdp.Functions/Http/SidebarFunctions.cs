using Cdp.Shared.Sync;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;

namespace Cdp.Functions.Http;

/// <summary>What staff change in the sales sidebar (saved at once, pushed by sync-then-retry) and the sync tasks.</summary>
public sealed class SidebarFunctions(AzureApi api)
{
    [Function(nameof(SyncRoutes.SaveContactTags))]
    public Task<IResult> SaveContactTags(
        [HttpTrigger(AuthorizationLevel.Anonymous, "put", Route = SyncRoutes.TagsPath)] HttpRequest request, string contactId,
        [DurableClient] DurableTaskClient client) =>
        api.RunAsync(SyncRoutes.SaveContactTags, request, client, ("contactId", contactId));

    [Function(nameof(SyncRoutes.AddFollowUp))]
    public Task<IResult> AddFollowUp(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = SyncRoutes.FollowUpsPath)] HttpRequest request, string contactId,
        [DurableClient] DurableTaskClient client) =>
        api.RunAsync(SyncRoutes.AddFollowUp, request, client, ("contactId", contactId));

    [Function(nameof(SyncRoutes.ListContactSyncTasks))]
    public Task<IResult> ListContactSyncTasks(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = SyncRoutes.ContactSyncTasksPath)] HttpRequest request, string contactId) =>
        api.RunAsync(SyncRoutes.ListContactSyncTasks, request, ("contactId", contactId));

    [Function(nameof(SyncRoutes.ListSyncTasks))]
    public Task<IResult> ListSyncTasks(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = SyncRoutes.SyncTasksPath)] HttpRequest request) =>
        api.RunAsync(SyncRoutes.ListSyncTasks, request);

    [Function(nameof(SyncRoutes.GetSyncTask))]
    public Task<IResult> GetSyncTask(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = SyncRoutes.SyncTaskPath)] HttpRequest request, string id) =>
        api.RunAsync(SyncRoutes.GetSyncTask, request, ("id", id));

    [Function(nameof(SyncRoutes.RetrySyncTask))]
    public Task<IResult> RetrySyncTask(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = SyncRoutes.RetryPath)] HttpRequest request, string id,
        [DurableClient] DurableTaskClient client) =>
        api.RunAsync(SyncRoutes.RetrySyncTask, request, client, ("id", id));
}
