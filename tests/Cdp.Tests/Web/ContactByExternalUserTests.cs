using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Cdp.Shared.Access;
using Cdp.Tests.Support;

namespace Cdp.Tests.Web;

/// <summary>
/// GET /api/contacts/by-external/{externalUserId}: the sidebar names the contact by the external_userid the browser
/// reported, so the server answers a staff member only for a contact they follow in WeCom.
/// </summary>
public sealed class ContactByExternalUserTests(CdpApp app) : IClassFixture<CdpApp>
{
    [Fact]
    public async Task A_salesperson_reads_a_contact_they_follow_masked_and_the_read_is_audited()
    {
        var follower = TestData.Id("sales");
        var (contactId, external) = await app.NewContactAsync();
        await OwnAsync(contactId, follower, "wecom_follow", external!);
        using var sales = await StaffSession.SignInAsync(app, follower, [Roles.Sales]);

        using var response = await sales.GetAsync($"/api/contacts/by-external/{external}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var view = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(contactId, view.GetProperty("contact").GetProperty("contactId").GetGuid());
        Assert.Contains("****", view.GetProperty("contact").GetProperty("mobilePhone").GetString(), StringComparison.Ordinal);
        Assert.Contains(await AuditTrail.OfAsync(app, contactId, PiiReads.ReadAction), r => r.Actor == Authenticate.StaffPrefix + follower);
    }

    [Fact]
    public async Task A_salesperson_who_does_not_follow_the_contact_gets_the_404_of_an_unknown_one()
    {
        var (contactId, external) = await app.NewContactAsync();
        await OwnAsync(contactId, "someone-else", "wecom_follow", external!);
        // Owning the CRM record is not following in WeCom: the sidebar only opens in a follower's chat.
        var crmOwner = TestData.Id("sales");
        await OwnAsync(contactId, crmOwner, "crm_owner", "crm:" + contactId);
        var stranger = TestData.Id("sales");

        foreach (var userId in new[] { crmOwner, stranger })
        {
            using var sales = await StaffSession.SignInAsync(app, userId, [Roles.Sales]);
            using var refused = await sales.GetAsync($"/api/contacts/by-external/{external}");
            using var unknown = await sales.GetAsync($"/api/contacts/by-external/wm-{Guid.NewGuid():N}");
            Assert.Equal((HttpStatusCode.NotFound, HttpStatusCode.NotFound), (refused.StatusCode, unknown.StatusCode));
            Assert.Equal(
                (await unknown.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(),
                (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
        }
    }

    [Fact]
    public async Task A_machine_caller_with_customers_read_reads_any_contact_and_one_without_is_refused()
    {
        var (contactId, external) = await app.NewContactAsync();
        using var reader = await ApiKeyCaller.CreateAsync(app, Permissions.CustomersRead);
        var view = await reader.Client.GetFromJsonAsync<JsonElement>($"/api/contacts/by-external/{external}");
        Assert.Equal(contactId, view.GetProperty("contact").GetProperty("contactId").GetGuid());

        using var other = await ApiKeyCaller.CreateAsync(app, Permissions.SyncManage);
        using var refused = await other.Client.GetAsync($"/api/contacts/by-external/{external}");
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        using var anonymous = await app.Anonymous.GetAsync($"/api/contacts/by-external/{external}");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
    }

    Task OwnAsync(Guid contactId, string staff, string source, string sourceRef) => CustomerOwnerRows.AddAsync(app, contactId, staff, source, sourceRef);
}
