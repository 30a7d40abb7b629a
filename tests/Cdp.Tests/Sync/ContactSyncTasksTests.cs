using System.Net;
using System.Net.Http.Json;
using Cdp.Shared;
using Cdp.Shared.Sync;
using Cdp.Tests.Support;
using Dapper;

namespace Cdp.Tests.Sync;

/// <summary>GET /api/contacts/{id}/sync-tasks: the sidebar's "sync state of the last change" for whoever may see the contact.</summary>
public sealed class ContactSyncTasksTests(SyncApp app) : IClassFixture<SyncApp>
{
    [Fact]
    public async Task The_salesperson_who_follows_the_contact_sees_its_latest_changes_newest_first()
    {
        var (contact, external) = await app.NewContactAsync();
        await using (var conn = await app.Database.DataSource.OpenConnectionAsync())
            await conn.ExecuteAsync("""
                insert into customer_owner (entity_type, entity_id, staff_user_id, source, source_ref, since)
                values ('contact', @contact, @user, 'wecom_follow', @external, now())
                """, new { contact, user = CdpBackend.SalesUserId, external });
        var first = await app.PutTagsAsync(contact, "VIP");
        var second = await app.PutTagsAsync(contact, "VIP", "华东");
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
        await app.PutTagsAsync(contact, "VIP");
        using var other = await StaffSession.SignInAsync(app, "sales-other", ["sales"]);

        using var outside = await other.GetAsync($"/api/contacts/{contact}/sync-tasks");
        using var nobody = await app.Anonymous.GetAsync($"/api/contacts/{contact}/sync-tasks");

        Assert.Equal(HttpStatusCode.NotFound, outside.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, nobody.StatusCode);
    }
}
