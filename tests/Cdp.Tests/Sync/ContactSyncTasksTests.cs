using System.Net;
using System.Net.Http.Json;
using Cdp.Shared;
using Cdp.Shared.Sync;
using Cdp.Tests.Support;

namespace Cdp.Tests.Sync;

/// <summary>GET /api/contacts/{id}/sync-tasks: the sidebar's "sync state of the last change" for whoever may see the contact.</summary>
public sealed class ContactSyncTasksTests(CdpApp app) : IClassFixture<CdpApp>
{
    [Fact]
    public async Task The_salesperson_who_follows_the_contact_sees_its_latest_changes_newest_first()
    {
        var (contact, external) = await app.NewContactAsync();
        await app.FollowAsync(contact, CdpBackend.SalesUserId, external);
        var first = await SyncApp.PutTagsAsync(app.Client, contact, "VIP");
        var second = await SyncApp.PutTagsAsync(app.Client, contact, "VIP", "华东");
        using var sales = await StaffSession.SignInAsync(app, CdpBackend.SalesUserId, ["sales"]);

        var tasks = await sales.GetFromJsonAsync<List<SyncTaskView>>($"/api/contacts/{contact}/sync-tasks", CdpJson.Options);
        var latest = await sales.GetFromJsonAsync<List<SyncTaskView>>($"/api/contacts/{contact}/sync-tasks?limit=1", CdpJson.Options);

        Assert.Equal([second, first], tasks!.Select(t => t.Id));
        Assert.Equal(second, Assert.Single(latest!).Id);
    }

    [Fact]
    public async Task A_contact_outside_the_salespersons_scope_is_404_and_no_caller_is_401()
    {
        var (contact, _) = await app.NewContactAsync();
        await SyncApp.PutTagsAsync(app.Client, contact, "VIP");
        using var other = await StaffSession.SignInAsync(app, "sales-other", ["sales"]);

        using var outside = await other.GetAsync($"/api/contacts/{contact}/sync-tasks");
        using var nobody = await app.Anonymous.GetAsync($"/api/contacts/{contact}/sync-tasks");

        Assert.Equal(HttpStatusCode.NotFound, outside.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, nobody.StatusCode);
    }
}
