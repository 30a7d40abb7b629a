using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Cdp.Shared;
using Cdp.Shared.Access;
using Cdp.Shared.Channels.WeCom;
using Cdp.Shared.Cleansing;
using Cdp.Shared.Customers;
using Cdp.Shared.Ingestion;
using Cdp.Shared.Search;
using Cdp.Shared.Storage;
using Cdp.Tests.Hosting;
using Cdp.Tests.Support;
using Dapper;
using Microsoft.Extensions.DependencyInjection;

namespace Cdp.Tests.Access;

/// <summary>
/// A salesperson sees only their customers (API.md: outside the scope -> 404): followed in WeCom, owned in the CRM or
/// through a conversion, the accounts of those contacts; a manager their department's; everyone else everything.
/// End to end on the local host in-process, real Postgres and the WeCom stand-in.
/// </summary>
public sealed class CustomerScopeTests(CdpApp app) : IClassFixture<CdpApp>
{
    static readonly TimeSpan Settle = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Salesperson_signed_in_through_WeCom_sees_the_contacts_they_follow_and_404_for_the_others()
    {
        var me = TestData.Id("sales");
        using var sales = await StaffSession.SignInAsync(app, me, [Roles.Sales]);
        var (mine, _) = await FollowedInWeComAsync(me);
        var account = await AccountOfAsync(mine);
        var (other, _) = await app.NewContactAsync();

        using (var view = await sales.GetAsync($"/api/contacts/{mine}/360")) Assert.Equal(HttpStatusCode.OK, view.StatusCode);
        using (var view = await sales.GetAsync($"/api/accounts/{account}")) Assert.Equal(HttpStatusCode.OK, view.StatusCode);
        using (var view = await sales.GetAsync($"/api/accounts/{account}/360")) Assert.Equal(HttpStatusCode.OK, view.StatusCode);
        using (var tags = await sales.PutAsJsonAsync($"/api/contacts/{mine}/tags", new { tags = new[] { "VIP" } })) Assert.Equal(HttpStatusCode.Accepted, tags.StatusCode);
        using (var followUp = await sales.PostAsJsonAsync($"/api/contacts/{mine}/follow-ups", new { content = "拜访", channel = "visit" }))
            Assert.Equal(HttpStatusCode.Created, followUp.StatusCode);

        // Outside the scope the answer is the one a record that does not exist gets, whatever the body.
        await AssertNotFoundAsync(await sales.GetAsync($"/api/contacts/{other}/360"), "contact", other);
        await AssertNotFoundAsync(await sales.PutAsJsonAsync($"/api/contacts/{other}/tags", new { tags = new[] { "VIP" } }), "contact", other);
        await AssertNotFoundAsync(await sales.PostAsJsonAsync($"/api/contacts/{other}/follow-ups", new { content = "拜访" }), "contact", other);
        await AssertNotFoundAsync(await sales.PutAsync($"/api/contacts/{other}/tags", new StringContent("{\"tags\":[", Encoding.UTF8, "application/json")), "contact", other);
        var nobody = Guid.NewGuid();
        await AssertNotFoundAsync(await sales.GetAsync($"/api/contacts/{nobody}/360"), "contact", nobody);
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        Assert.Equal(0, await conn.QuerySingleAsync<int>("select count(*) from customer_tag where contact_id = @other", new { other }));
    }

    [Fact]
    public async Task Search_returns_only_the_salespersons_customers_filtered_before_the_limit()
    {
        var me = TestData.Id("sales");
        using var sales = await StaffSession.SignInAsync(app, me, [Roles.Sales]);
        var name = TestData.CompanyWord();
        var others = new List<Guid>();
        for (var i = 0; i < 3; i++) others.Add(await ContactAsync(name, owner: null));
        var mine = await ContactAsync(name, owner: me);   // sorts last among equal names (its id is the newest)

        Assert.Equal([mine], await SearchAsync(sales, name, limit: 1));
        Assert.Equal([mine], await SearchAsync(sales, name));
        Assert.Equal(others.Append(mine).Order(), (await SearchAsync(app.Client, name)).Order());
    }

    [Fact]
    public async Task Manager_sees_the_customers_of_their_department_and_not_of_another()
    {
        var (department, elsewhere) = (TestData.Id("dept"), TestData.Id("dept"));
        var (colleague, stranger) = (TestData.Id("sales"), TestData.Id("sales"));
        await GrantAsync(colleague, Roles.Sales, department);
        await GrantAsync(stranger, Roles.Sales, elsewhere);
        using var manager = await StaffSession.SignInAsync(app, TestData.Id("manager"), [Roles.Manager], department);
        var name = TestData.CompanyWord();
        var ours = await ContactAsync(name, owner: colleague, account: true);
        var theirs = await ContactAsync(name, owner: stranger);
        var account = await AccountOfAsync(ours);

        using (var view = await manager.GetAsync($"/api/contacts/{ours}/360")) Assert.Equal(HttpStatusCode.OK, view.StatusCode);
        using (var view = await manager.GetAsync($"/api/accounts/{account}/360")) Assert.Equal(HttpStatusCode.OK, view.StatusCode);
        await AssertNotFoundAsync(await manager.GetAsync($"/api/contacts/{theirs}/360"), "contact", theirs);
        Assert.Equal([ours], await SearchAsync(manager, name));

        // A salesperson of the same department sees only their own.
        var scope = app.Services.GetRequiredService<CustomerScope>();
        var peer = new Caller(CallerKind.Staff, "staff:peer", Roles.PermissionsOf([Roles.Sales]))
        {
            StaffUserId = TestData.Id("sales"), Department = department, Roles = [Roles.Sales], Scoped = true,
        };
        Assert.False(await scope.IsVisibleAsync(ScopeViewer.Of(peer)!, CustomerRef.ContactKind, ours, default));
    }

    [Fact]
    public async Task A_follower_added_by_a_WeCom_callback_is_removed_by_del_follow_user()
    {
        var (me, colleague) = (TestData.Id("sales"), TestData.Id("sales"));
        using var sales = await StaffSession.SignInAsync(app, me, [Roles.Sales]);
        var (contact, external) = await FollowedInWeComAsync(me, colleague);
        using (var view = await sales.GetAsync($"/api/contacts/{contact}/360")) Assert.Equal(HttpStatusCode.OK, view.StatusCode);

        // The customer deletes me; WeCom now lists only the colleague.
        app.WeCom.AddContact(external, "钱七", corps[external], colleague);
        var status = await CallbackAsync(WeComChangeTypes.DelFollowUser, me, external);
        Assert.Equal("processed", status.Status);

        await AssertNotFoundAsync(await sales.GetAsync($"/api/contacts/{contact}/360"), "contact", contact);
        Assert.True(await VisibleAsync(colleague, CustomerRef.ContactKind, contact));
    }

    [Fact]
    public async Task Del_external_contact_removes_the_follower_even_when_WeCom_no_longer_knows_the_contact()
    {
        var me = TestData.Id("sales");
        var (contact, external) = await FollowedInWeComAsync(me);
        Assert.True(await VisibleAsync(me, CustomerRef.ContactKind, contact));

        app.WeCom.AddContactJson(external, """{"errcode":84061,"errmsg":"not external contact"}""");
        var status = await CallbackAsync(WeComChangeTypes.DelExternalContact, me, external);

        Assert.Equal("rejected", status.Status);
        Assert.False(await VisibleAsync(me, CustomerRef.ContactKind, contact));
    }

    [Fact]
    public async Task The_CRM_owner_makes_a_lead_visible_and_a_newer_owner_replaces_an_older_one()
    {
        var (me, successor) = (TestData.Id("sales"), TestData.Id("sales"));
        using var sales = await StaffSession.SignInAsync(app, me, [Roles.Sales]);
        var sourceId = TestData.Id("crm");
        var at = DateTimeOffset.UtcNow.AddMinutes(-3);
        var fields = new Dictionary<string, object> { ["LastName"] = "孙", ["Company"] = TestData.CompanyWord() + "有限公司", ["MobilePhone"] = TestData.Mobile() };
        var lead = await CrmLeadAsync(sourceId, at, fields, me);

        using (var view = await sales.GetAsync($"/api/leads/{lead}")) Assert.Equal(HttpStatusCode.OK, view.StatusCode);

        Assert.Equal(lead, await CrmLeadAsync(sourceId, at.AddMinutes(1), fields, successor));
        await AssertNotFoundAsync(await sales.GetAsync($"/api/leads/{lead}"), "lead", lead);
        Assert.True(await VisibleAsync(successor, CustomerRef.LeadKind, lead));

        // A stale version arriving late does not take the lead back.
        Assert.Equal(lead, await CrmLeadAsync(sourceId, at.AddSeconds(30), fields, me));
        Assert.False(await VisibleAsync(me, CustomerRef.LeadKind, lead));
        Assert.True(await VisibleAsync(successor, CustomerRef.LeadKind, lead));
    }

    [Fact]
    public async Task Converting_their_lead_keeps_the_customer_in_scope_and_a_lead_outside_it_is_404()
    {
        var me = TestData.Id("sales");
        using var sales = await StaffSession.SignInAsync(app, me, [Roles.Sales]);
        var mine = await CrmLeadAsync(TestData.Id("crm"), DateTimeOffset.UtcNow, LeadFields(), me);
        var theirs = await CrmLeadAsync(TestData.Id("crm"), DateTimeOffset.UtcNow, LeadFields(), TestData.Id("sales"));

        await AssertNotFoundAsync(await sales.GetAsync($"/api/leads/{theirs}"), "lead", theirs);
        await AssertNotFoundAsync(await sales.PostAsJsonAsync($"/api/leads/{theirs}/convert", new { }), "lead", theirs);
        await using (var conn = await app.Database.DataSource.OpenConnectionAsync())
            Assert.Null(await conn.QuerySingleAsync<DateTime?>("select converted_at from lead where lead_id = @theirs", new { theirs }));

        using var converted = await sales.PostAsJsonAsync($"/api/leads/{mine}/convert", new { });
        var text = await converted.Content.ReadAsStringAsync();
        Assert.True(converted.StatusCode == HttpStatusCode.OK, $"{converted.StatusCode}: {text}");
        var ids = JsonDocument.Parse(text).RootElement;
        var (contact, account) = (ids.GetProperty("contactId").GetGuid(), ids.GetProperty("accountId").GetGuid());
        using (var view = await sales.GetAsync($"/api/contacts/{contact}/360")) Assert.Equal(HttpStatusCode.OK, view.StatusCode);
        using (var view = await sales.GetAsync($"/api/accounts/{account}")) Assert.Equal(HttpStatusCode.OK, view.StatusCode);

        // Picking an account (the answer to an ambiguous company) is limited to accounts the salesperson can see.
        var foreignAccount = await AccountOfAsync(await ContactAsync(TestData.CompanyWord(), owner: null, account: true));
        var yetAnother = await CrmLeadAsync(TestData.Id("crm"), DateTimeOffset.UtcNow, LeadFields(), me);
        await AssertNotFoundAsync(await sales.PostAsJsonAsync($"/api/leads/{yetAnother}/convert", new { accountId = foreignAccount }), "account", foreignAccount);

        // The conversion's ownerId is given the contact too.
        var owner = TestData.Id("sales");
        var another = await CrmLeadAsync(TestData.Id("crm"), DateTimeOffset.UtcNow, LeadFields(), me);
        using var handedOver = await sales.PostAsJsonAsync($"/api/leads/{another}/convert", new { ownerId = owner });
        Assert.Equal(HttpStatusCode.OK, handedOver.StatusCode);
        var handedContact = (await handedOver.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("contactId").GetGuid();
        Assert.True(await VisibleAsync(owner, CustomerRef.ContactKind, handedContact));
    }

    [Fact]
    public async Task Admins_api_keys_and_stewards_see_every_customer()
    {
        var name = TestData.CompanyWord();
        var unowned = await ContactAsync(name, owner: null, account: true);
        var account = await AccountOfAsync(unowned);
        using var crmSync = await ApiKeyCaller.CreateAsync(app, Permissions.CustomersRead);
        var machine = crmSync.Client;
        using var steward = await StaffSession.SignInAsync(app, TestData.Id("steward"), [Roles.Steward]);

        foreach (var client in new[] { app.Client, machine, steward })
        {
            using (var view = await client.GetAsync($"/api/contacts/{unowned}/360")) Assert.Equal(HttpStatusCode.OK, view.StatusCode);
            using (var view = await client.GetAsync($"/api/accounts/{account}")) Assert.Equal(HttpStatusCode.OK, view.StatusCode);
            Assert.Equal([unowned], await SearchAsync(client, name));
        }
    }

    [Fact]
    public async Task Scoped_search_is_still_answered_from_indexes()
    {
        var viewer = new ScopeViewer("sales-plan", "dept-plan");
        foreach (var q in new[] { "13812345678", "someone@example.com", TestData.CreditCode(), "腾讯", "Acme Trading" })
        {
            var plan = await Search.SearchEndpointTests.PlanAsync(app.Database.DataSource, SearchQuery.Parse(q, null, null), viewer);
            Assert.DoesNotContain("Seq Scan", plan, StringComparison.Ordinal);
            Assert.Contains("customer_owner", plan, StringComparison.Ordinal);
        }
    }

    // ---- helpers ------------------------------------------------------------------------------------------------

    readonly Dictionary<string, string> corps = [];

    /// <summary>An external contact followed by <paramref name="followers"/>, ingested through an add_external_contact callback.</summary>
    async Task<(Guid ContactId, string ExternalUserId)> FollowedInWeComAsync(params string[] followers)
    {
        var external = TestData.Id("wm");
        corps[external] = TestData.CompanyWord();
        app.WeCom.AddContact(external, "钱七", corps[external], followers);
        var status = await CallbackAsync(WeComChangeTypes.AddExternalContact, followers[0], external);
        Assert.Equal(("processed", "contact"), (status.Status, status.EntityType));
        return (status.EntityId!.Value, external);
    }

    async Task<IngestionStatus> CallbackAsync(string changeType, string userId, string external)
    {
        var callback = WeComCallbacks.Build(app.WeComCrypto, WeComStandIn.DefaultCorpId,
            WeComCallbacks.ChangeExternalContactXml(WeComStandIn.DefaultCorpId, changeType, userId, external));
        using var response = await app.Anonymous.PostAsync($"/api/ingest/wecom?{callback.Query}", new StringContent(callback.Body, Encoding.UTF8, "text/xml"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await CdpApp.SettledAsync(app.Client, Guid.Parse(response.Headers.GetValues("X-Cdp-Ingestion-Id").Single()), Settle);
    }

    static Dictionary<string, object> LeadFields() => new()
    {
        ["LastName"] = "周", ["Company"] = TestData.CompanyWord() + "有限公司", ["MobilePhone"] = TestData.Mobile(), ["City"] = "上海",
    };

    async Task<Guid> CrmLeadAsync(string sourceId, DateTimeOffset modifiedAt, Dictionary<string, object> fields, string ownerId)
    {
        var (id, _) = await CdpApp.IngestAsync(app.Client, "crm", Payloads.Crm("lead", new Dictionary<string, object>(fields) { ["OwnerId"] = ownerId }, sourceId, modifiedAt));
        var status = await CdpApp.SettledAsync(app.Client, id, Settle);
        Assert.Equal(("processed", "lead"), (status.Status, status.EntityType));
        return status.EntityId!.Value;
    }

    /// <summary>A contact row (with an account when asked) and, when <paramref name="owner"/> is set, its owner row.</summary>
    async Task<Guid> ContactAsync(string name, string? owner, bool account = false)
    {
        var id = Guid.CreateVersion7();
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        await conn.ExecuteAsync("""
            insert into contact (contact_id, contact_name, mobile_phone, shard_id) values (@id, @name, @mobile, @shard)
            """, new { id, name, mobile = TestData.Mobile(), shard = Shard.Of(id) });
        if (account)
        {
            var accountId = Guid.CreateVersion7();
            var company = TestData.CompanyWord() + "有限公司";
            var (full, shortName) = CompanyName.Normalize(company);
            await conn.ExecuteAsync("""
                insert into account (account_id, account_name, name_normalized, name_short, shard_id) values (@accountId, @company, @full, @shortName, @shard);
                insert into account_contact_relation (account_id, contact_id) values (@accountId, @id);
                """, new { accountId, company, full, shortName, shard = Shard.Of(accountId), id });
        }
        if (owner is not null)
        {
            await conn.ExecuteAsync("""
                insert into customer_owner (entity_type, entity_id, staff_user_id, source, source_ref, since)
                values ('contact', @id, @owner, 'crm_owner', @ref, now())
                """, new { id, owner, @ref = "test:" + id });
        }
        return id;
    }

    async Task<Guid> AccountOfAsync(Guid contactId)
    {
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        return await conn.QuerySingleAsync<Guid>("select account_id from account_contact_relation where contact_id = @contactId", new { contactId });
    }

    async Task GrantAsync(string userId, string role, string department)
    {
        using var response = await app.Client.PutAsJsonAsync($"/api/admin/staff/{userId}", new { roles = new[] { role }, department });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    Task<bool> VisibleAsync(string staffUserId, string entityType, Guid id) =>
        app.Services.GetRequiredService<CustomerScope>().IsVisibleAsync(new ScopeViewer(staffUserId, null), entityType, id, default);

    static async Task<List<Guid>> SearchAsync(HttpClient client, string q, int? limit = null)
    {
        using var response = await client.GetAsync($"/api/search?q={Uri.EscapeDataString(q)}{(limit is null ? "" : $"&limit={limit}")}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var result = await response.Content.ReadFromJsonAsync<SearchResult>(CdpJson.Options);
        return [.. result!.Matches.Select(m => m.Id)];
    }

    internal static async Task AssertNotFoundAsync(HttpResponseMessage response, string kind, Guid id)
    {
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"{response.StatusCode}: {body}");
            Assert.Equal($"No {kind} {id}.", JsonDocument.Parse(body).RootElement.GetProperty("detail").GetString());
        }
    }
}

/// <summary>The decisions of the scope, without a database.</summary>
public sealed class CustomerScopeRulesTests
{
    [Fact]
    public void Sales_see_their_own_managers_their_departments_and_everyone_else_everything()
    {
        Caller Staff(params string[] roles) => new(CallerKind.Staff, "staff:u1", Roles.PermissionsOf(roles))
        {
            StaffUserId = "u1", Department = "d1", Roles = roles, Scoped = Roles.IsScoped(roles),
        };

        Assert.Equal(new ScopeViewer("u1", null), ScopeViewer.Of(Staff(Roles.Sales)));
        Assert.Equal(new ScopeViewer("u1", "d1"), ScopeViewer.Of(Staff(Roles.Manager)));
        Assert.Equal(new ScopeViewer("u1", "d1"), ScopeViewer.Of(Staff(Roles.Sales, Roles.Manager)));
        Assert.Null(ScopeViewer.Of(Staff(Roles.Sales, Roles.Steward)));
        Assert.Null(ScopeViewer.Of(Staff(Roles.Admin)));
        Assert.Null(ScopeViewer.Of(new Caller(CallerKind.ApiKey, "key:k1", new HashSet<string> { Permissions.CustomersRead })));
    }

    [Fact]
    public void A_del_event_takes_its_staff_member_off_the_followers_even_if_WeCom_still_lists_them()
    {
        var contact = new WeComExternalContact
        {
            ExternalUserId = "wm1",
            FollowUsers = [new() { UserId = "u1", CreateTime = 1_700_000_000 }, new() { UserId = "u2", CreateTime = 1_700_000_100 }],
        };
        WeComEvent Event(string changeType) => new("corp", "sys", 1_700_000_200, "event", WeComEvent.ChangeExternalContact, changeType, "u1", "wm1", null, null, null);

        Assert.Equal([new Follower("u2", DateTimeOffset.FromUnixTimeSeconds(1_700_000_100))], ProcessIngestion.FollowersOf(contact, Event(WeComChangeTypes.DelFollowUser)));
        Assert.Equal(["u2"], ProcessIngestion.FollowersOf(contact, Event(WeComChangeTypes.DelExternalContact)).Select(f => f.UserId));
        Assert.Equal(["u1", "u2"], ProcessIngestion.FollowersOf(contact, Event(WeComChangeTypes.EditExternalContact)).Select(f => f.UserId));
        Assert.Null(ProcessIngestion.RemovedFollower(Event(WeComChangeTypes.AddExternalContact)));
        Assert.Equal("u1", ProcessIngestion.RemovedFollower(Event(WeComChangeTypes.DelFollowUser)));
    }
}

/// <summary>A staff session gets the same scope answers from the local host and the Azure host's functions.</summary>
public sealed class CustomerScopeParityTests(HostPair hosts) : IClassFixture<HostPair>
{
    [Fact]
    public async Task Both_hosts_answer_a_salesperson_404_outside_their_scope_and_200_inside()
    {
        var me = TestData.Id("sales");
        using (var granted = await hosts.Client.PutAsJsonAsync($"/api/admin/staff/{me}", new { roles = new[] { Roles.Sales } }))
            Assert.Equal(HttpStatusCode.OK, granted.StatusCode);
        var (token, _) = hosts.Services.GetRequiredService<SessionTokens>().Issue(Authenticate.StaffPrefix + me);
        var (mine, _) = await hosts.NewContactAsync();
        var (other, _) = await hosts.NewContactAsync();
        await using (var conn = await hosts.Database.DataSource.OpenConnectionAsync())
        {
            await conn.ExecuteAsync("""
                insert into customer_owner (entity_type, entity_id, staff_user_id, source, source_ref, since)
                values ('contact', @mine, @me, 'wecom_follow', 'wm-parity', now())
                """, new { mine, me });
        }

        foreach (var (contact, expected) in new[] { (mine, HttpStatusCode.OK), (other, HttpStatusCode.NotFound) })
        {
            HttpRequestMessage Request() => new(HttpMethod.Get, $"/api/contacts/{contact}/360") { Headers = { { "Cookie", $"{SessionTokens.Cookie}={token}" } } };
            using var local = await hosts.Anonymous.SendAsync(Request());
            using var azure = await hosts.Azure.SendAsync(Request());
            Assert.Equal((expected, expected), (local.StatusCode, azure.StatusCode));
            // A view's "cached" flag differs between a first and a second read; a 404 must match exactly.
            if (expected == HttpStatusCode.NotFound) await HostPair.AssertSameAsync(local, azure);
        }
    }
}
