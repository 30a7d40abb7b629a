using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Cdp.Tests.Events;
using Cdp.Tests.Summaries;
using Cdp.Tests.Support;
using Dapper;

namespace Cdp.Tests.Customers;

/// <summary>The customer views through the local host in-process, on real Postgres, Redis and ClickHouse.</summary>
public sealed class CustomerViewTests(EventsApp app) : IClassFixture<EventsApp>
{
    SummaryHistory History => new(app.Database.DataSource);

    static readonly TimeSpan Settles = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task The_account_360_shows_summary_top_contacts_opportunities_identities_behaviour_and_touchpoints()
    {
        var h = History;
        var accountId = await h.AccountAsync("星辰" + TestData.CompanyWord() + "有限公司");
        var primary = await h.ContactAsync(accountId);
        var other = await h.ContactAsync(accountId, primaryOnly: true);
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        await conn.ExecuteAsync("update account_contact_relation set is_primary_contact = true, role_in_account = '采购' where contact_id = @primary", new { primary });
        await conn.ExecuteAsync("""
            insert into account_channel_identity (account_id, channel_id, channel_account_id, first_seen_at, last_seen_at)
            values (@accountId, 'erp', @erpId, now(), now())
            """, new { accountId, erpId = TestData.Id("erp") });
        await h.OpportunityAsync(accountId, 5000m, "closed_won");
        await h.OpportunityAsync(accountId, 2000m, "closed_lost");
        await h.OpportunityAsync(accountId, 1000m, "proposal");
        await h.TouchpointAsync(DateTimeOffset.UtcNow.AddHours(-3), "email_open", accountId: accountId);
        await h.TouchpointAsync(DateTimeOffset.UtcNow.AddHours(-2), "form_submit", contactId: other);

        // Three behaviour events naming the account: touchpoints now, counts once the writer has put them in ClickHouse.
        var user = TestData.Id("u");
        await EventsApp.PostOkAsync(app.Client, [
            EventsApp.Event($"{user}-1", user, "page_view", accountId, at: DateTimeOffset.UtcNow.AddMinutes(-30)),
            EventsApp.Event($"{user}-2", user, "page_view", accountId, at: DateTimeOffset.UtcNow.AddMinutes(-20)),
            EventsApp.Event($"{user}-3", user, "download", accountId, at: DateTimeOffset.UtcNow.AddMinutes(-10)),
        ]);

        // The events trigger the account's summary; the views follow within seconds.
        var view = await ViewWhen($"/api/accounts/{accountId}/360", v =>
            v.GetProperty("summary").ValueKind == JsonValueKind.Object
            && v.GetProperty("behaviour").ValueKind == JsonValueKind.Object
            && v.GetProperty("behaviour").GetProperty("total").GetInt64() == 3);

        Assert.False(view.GetProperty("partial").GetBoolean());
        Assert.Equal(accountId, view.GetProperty("account").GetProperty("accountId").GetGuid());
        var summary = view.GetProperty("summary");
        Assert.Equal(2, summary.GetProperty("totalContacts").GetInt32());
        Assert.Equal(3, summary.GetProperty("totalOpportunities").GetInt32());
        Assert.Equal(5000m, summary.GetProperty("totalRevenue").GetDecimal());
        Assert.Equal(0.5m, summary.GetProperty("winRate").GetDecimal());
        Assert.Equal(100, summary.GetProperty("healthScore").GetInt32());

        var contacts = view.GetProperty("contacts").EnumerateArray().ToList();
        Assert.Equal([primary, other], contacts.Select(c => c.GetProperty("contactId").GetGuid()));
        Assert.True(contacts[0].GetProperty("isPrimaryContact").GetBoolean());
        Assert.Equal("采购", contacts[0].GetProperty("role").GetString());

        var stages = view.GetProperty("opportunities").EnumerateArray().Select(o => o.GetProperty("stage").GetString()).ToList();
        Assert.Equal("proposal", stages[0]);   // open ones first
        Assert.Equal(3, stages.Count);
        Assert.Equal("erp", Assert.Single(view.GetProperty("channelIdentities").EnumerateArray()).GetProperty("channelId").GetString());

        var counts = view.GetProperty("behaviour").GetProperty("countsByType");
        Assert.Equal(30, view.GetProperty("behaviour").GetProperty("days").GetInt32());
        Assert.Equal(2, counts.GetProperty("page_view").GetInt64());
        Assert.Equal(1, counts.GetProperty("download").GetInt64());

        // Its own touchpoints and its contacts', newest first.
        var touchpoints = view.GetProperty("touchpoints").EnumerateArray().Select(t => t.GetProperty("type").GetString()).ToList();
        Assert.Equal(["download", "page_view", "page_view", "form_submit", "email_open"], touchpoints);
    }

    [Fact]
    public async Task The_second_read_is_served_from_the_cache_with_the_same_content()
    {
        var accountId = await History.AccountAsync("缓存" + TestData.CompanyWord() + "有限公司");
        await History.ContactAsync(accountId);

        var first = await GetAsync($"/api/accounts/{accountId}/360");
        var second = await GetAsync($"/api/accounts/{accountId}/360");

        Assert.False(first.GetProperty("cached").GetBoolean());
        Assert.True(second.GetProperty("cached").GetBoolean());
        Assert.Equal(WithoutCached(first), WithoutCached(second));
    }

    [Fact]
    public async Task The_contact_360_shows_accounts_identities_tags_follow_ups_leads_behaviour_and_touchpoints()
    {
        var h = History;
        var accountId = await h.AccountAsync("联系" + TestData.CompanyWord() + "有限公司");
        var contactId = await h.ContactAsync(accountId);
        var leadId = await h.LeadAsync("wechat");
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        await conn.ExecuteAsync("update lead set converted_contact_id = @contactId, converted_at = now(), lead_status = 'converted' where lead_id = @leadId", new { contactId, leadId });
        await conn.ExecuteAsync("""
            insert into contact_channel_identity (contact_id, channel_id, channel_user_id, identity_type, first_seen_at, last_seen_at)
            values (@contactId, 'wecom', @wm, 'wecom_external_user', now(), now())
            """, new { contactId, wm = TestData.Id("wm") });
        Assert.Equal(HttpStatusCode.Accepted, (await app.Client.PutAsJsonAsync($"/api/contacts/{contactId}/tags", new { tags = new[] { "重点客户", "华东" } })).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await app.Client.PostAsJsonAsync($"/api/contacts/{contactId}/follow-ups",
            new { content = "电话沟通报价", channel = "phone", occurredAt = DateTimeOffset.UtcNow.AddHours(-1) })).StatusCode);
        var user = TestData.Id("u");
        await EventsApp.PostOkAsync(app.Client, [EventsApp.Event($"{user}-1", user, "form_submit", contactId: contactId)]);

        var view = await ViewWhen($"/api/contacts/{contactId}/360", v =>
            v.GetProperty("behaviour").ValueKind == JsonValueKind.Object && v.GetProperty("behaviour").GetProperty("total").GetInt64() == 1
            && v.GetProperty("summary").ValueKind == JsonValueKind.Object);

        Assert.Equal(contactId, view.GetProperty("contact").GetProperty("contactId").GetGuid());
        Assert.Equal(1, view.GetProperty("summary").GetProperty("formSubmissions").GetInt32());
        var account = Assert.Single(view.GetProperty("accounts").EnumerateArray());
        Assert.Equal(accountId, account.GetProperty("accountId").GetGuid());
        Assert.True(account.GetProperty("isPrimaryAccount").GetBoolean());
        Assert.Equal("wecom_external_user", Assert.Single(view.GetProperty("channelIdentities").EnumerateArray()).GetProperty("identityType").GetString());
        Assert.Equal(["华东", "重点客户"], view.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal("电话沟通报价", Assert.Single(view.GetProperty("followUps").EnumerateArray()).GetProperty("content").GetString());
        Assert.Equal(leadId, Assert.Single(view.GetProperty("leads").EnumerateArray()).GetProperty("leadId").GetGuid());
        Assert.Equal(1, view.GetProperty("behaviour").GetProperty("countsByType").GetProperty("form_submit").GetInt64());
        Assert.Equal("form_submit", Assert.Single(view.GetProperty("touchpoints").EnumerateArray()).GetProperty("type").GetString());
        Assert.False(view.GetProperty("partial").GetBoolean());
    }

    [Fact]
    public async Task Account_details_and_unknown_customers()
    {
        var accountId = await History.AccountAsync("详情" + TestData.CompanyWord() + "有限公司");
        var details = await GetAsync($"/api/accounts/{accountId}");
        Assert.Equal(accountId, details.GetProperty("account").GetProperty("accountId").GetGuid());
        Assert.Equal(JsonValueKind.Null, details.GetProperty("summary").ValueKind);

        foreach (var route in new[] { "accounts/{0}", "accounts/{0}/360", "contacts/{0}/360", "leads/{0}" })
        {
            using var response = await app.Client.GetAsync("/api/" + string.Format(System.Globalization.CultureInfo.InvariantCulture, route, Guid.NewGuid()));
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
        using var notAnId = await app.Client.GetAsync("/api/accounts/not-a-guid/360");
        Assert.Equal(HttpStatusCode.NotFound, notAnId.StatusCode);
    }

    // ---- every write that changes what a view shows deletes it ----

    [Fact]
    public async Task Saving_tags_refreshes_the_contact_and_its_converted_leads()
    {
        var contactId = await History.ContactAsync(null);
        var leadId = await History.LeadAsync();
        await using (var conn = await app.Database.DataSource.OpenConnectionAsync())
            await conn.ExecuteAsync("update lead set converted_contact_id = @contactId where lead_id = @leadId", new { contactId, leadId });
        await CachedAsync($"/api/contacts/{contactId}/360");
        await CachedAsync($"/api/leads/{leadId}");

        Assert.Equal(HttpStatusCode.Accepted, (await app.Client.PutAsJsonAsync($"/api/contacts/{contactId}/tags", new { tags = new[] { "新标签" } })).StatusCode);

        var contact = await GetAsync($"/api/contacts/{contactId}/360");
        Assert.False(contact.GetProperty("cached").GetBoolean());
        Assert.Equal("新标签", Assert.Single(contact.GetProperty("tags").EnumerateArray()).GetString());
        var lead = await GetAsync($"/api/leads/{leadId}");
        Assert.False(lead.GetProperty("cached").GetBoolean());
        Assert.Equal("新标签", Assert.Single(lead.GetProperty("tags").EnumerateArray()).GetString());
    }

    [Fact]
    public async Task Adding_a_follow_up_refreshes_the_contact()
    {
        var contactId = await History.ContactAsync(null);
        await CachedAsync($"/api/contacts/{contactId}/360");

        Assert.Equal(HttpStatusCode.Created, (await app.Client.PostAsJsonAsync($"/api/contacts/{contactId}/follow-ups", new { content = "上门拜访" })).StatusCode);

        var view = await GetAsync($"/api/contacts/{contactId}/360");
        Assert.False(view.GetProperty("cached").GetBoolean());
        Assert.Equal("上门拜访", Assert.Single(view.GetProperty("followUps").EnumerateArray()).GetProperty("content").GetString());
    }

    [Fact]
    public async Task A_channel_record_changing_a_contact_refreshes_the_contact_and_its_account()
    {
        var mobile = TestData.Mobile();
        var company = "渠道" + TestData.CompanyWord() + "有限公司";
        var sourceId = TestData.Id("c");
        var (first, _) = await CdpApp.IngestAsync(app.Client, "crm", Payloads.Crm("contact",
            new { LastName = "陈", FirstName = "平", Company = company, City = "上海", MobilePhone = mobile, Title = "经理" }, sourceId, DateTimeOffset.UtcNow.AddMinutes(-5)));
        var settled = await CdpApp.SettledAsync(app.Client, first);
        var contactId = settled.EntityId!.Value;
        Guid accountId;
        await using (var conn = await app.Database.DataSource.OpenConnectionAsync())
            accountId = await conn.QuerySingleAsync<Guid>("select primary_account_id from contact where contact_id = @contactId", new { contactId });
        await CachedAsync($"/api/contacts/{contactId}/360");
        await CachedAsync($"/api/accounts/{accountId}/360");

        var (second, _) = await CdpApp.IngestAsync(app.Client, "crm", Payloads.Crm("contact",
            new { LastName = "陈", FirstName = "平", Company = company, City = "上海", MobilePhone = mobile, Title = "总监" }, sourceId, DateTimeOffset.UtcNow));
        Assert.Equal(contactId, (await CdpApp.SettledAsync(app.Client, second)).EntityId);

        var contact = await GetAsync($"/api/contacts/{contactId}/360");
        Assert.False(contact.GetProperty("cached").GetBoolean());
        Assert.Equal("总监", contact.GetProperty("contact").GetProperty("title").GetString());
        var account = await GetAsync($"/api/accounts/{accountId}/360");
        Assert.Equal("总监", Assert.Single(account.GetProperty("contacts").EnumerateArray()).GetProperty("title").GetString());
    }

    [Fact]
    public async Task Converting_a_lead_refreshes_the_lead()
    {
        var leadId = await History.LeadAsync();
        var before = await CachedAsync($"/api/leads/{leadId}");
        Assert.Equal("new", before.GetProperty("leadStatus").GetString());

        using var convert = await app.Client.PostAsJsonAsync($"/api/leads/{leadId}/convert", new { });
        Assert.True(convert.StatusCode is HttpStatusCode.OK or HttpStatusCode.Accepted, $"convert answered {convert.StatusCode}");

        var after = await ViewWhen($"/api/leads/{leadId}", v => v.GetProperty("leadStatus").GetString() == "converted");
        var contactId = after.GetProperty("convertedContactId").GetGuid();
        Assert.Equal(leadId, Assert.Single((await GetAsync($"/api/contacts/{contactId}/360")).GetProperty("leads").EnumerateArray()).GetProperty("leadId").GetGuid());
    }

    [Fact]
    public async Task Behaviour_events_refresh_the_touchpoints_at_once_and_the_counts_once_written()
    {
        var contactId = await History.ContactAsync(null);
        await CachedAsync($"/api/contacts/{contactId}/360");

        var user = TestData.Id("u");
        await EventsApp.PostOkAsync(app.Client, [EventsApp.Event($"{user}-1", user, "page_view", contactId: contactId)]);
        var now = await GetAsync($"/api/contacts/{contactId}/360");
        Assert.False(now.GetProperty("cached").GetBoolean());
        Assert.Single(now.GetProperty("touchpoints").EnumerateArray());

        // Far sooner than the 300 s the cached view would otherwise live.
        await ViewWhen($"/api/contacts/{contactId}/360", v =>
            v.GetProperty("behaviour").GetProperty("countsByType").TryGetProperty("page_view", out var n) && n.GetInt64() == 1);
    }

    [Fact]
    public async Task A_summary_computation_refreshes_the_view()
    {
        var contactId = await History.ContactAsync(null);
        await History.TouchpointAsync(DateTimeOffset.UtcNow.AddHours(-1), "email_open", contactId: contactId);   // no writer: no invalidation
        var before = await CachedAsync($"/api/contacts/{contactId}/360");
        Assert.Equal(JsonValueKind.Null, before.GetProperty("summary").ValueKind);

        var consumer = (Cdp.Shared.Summaries.SummaryCalculationConsumer)app.Services.GetService(typeof(Cdp.Shared.Summaries.SummaryCalculationConsumer))!;
        await consumer.RecalculateAsync(new("contact", contactId, "test"), CancellationToken.None);

        var after = await GetAsync($"/api/contacts/{contactId}/360");
        Assert.False(after.GetProperty("cached").GetBoolean());
        Assert.Equal(1, after.GetProperty("summary").GetProperty("emailOpens").GetInt32());
    }

    // ---- helpers ----

    [Fact]
    public async Task A_business_or_data_only_number_from_a_mobile_field_shows_as_the_typed_phone_and_follows_a_conversion()
    {
        var company = "号码" + TestData.CompanyWord() + "有限公司";
        var lead = await CdpApp.SettledAsync(app.Client, (await CdpApp.IngestAsync(app.Client, "crm", Payloads.Crm("lead",
            new { LastName = "林", FirstName = "一", Company = company, MobilePhone = "400-812-3456", Email = TestData.Email() }))).Id);
        var contact = await CdpApp.SettledAsync(app.Client, (await CdpApp.IngestAsync(app.Client, "crm", Payloads.Crm("contact",
            new { LastName = "林", FirstName = "二", MobilePhone = "140 1234 5678", Email = TestData.Email() }))).Id);
        Assert.Equal(("processed", "processed"), (lead.Status, contact.Status));

        var leadView = await GetAsync($"/api/leads/{lead.EntityId}");
        Assert.Equal((JsonValueKind.Null, "+864008123456", "shared_cost"),
            (leadView.GetProperty("mobilePhone").ValueKind, leadView.GetProperty("phone").GetString(), leadView.GetProperty("phoneType").GetString()));
        var contactView = (await GetAsync($"/api/contacts/{contact.EntityId}/360")).GetProperty("contact");
        Assert.Equal((JsonValueKind.Null, "14012345678", "data_only"),
            (contactView.GetProperty("mobilePhone").ValueKind, contactView.GetProperty("phone").GetString(), contactView.GetProperty("phoneType").GetString()));

        using var convert = await app.Client.PostAsJsonAsync($"/api/leads/{lead.EntityId}/convert", new { });
        Assert.Equal(HttpStatusCode.OK, convert.StatusCode);
        var converted = (await convert.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("contactId").GetGuid();
        var convertedView = (await GetAsync($"/api/contacts/{converted}/360")).GetProperty("contact");
        Assert.Equal(("+864008123456", "shared_cost"), (convertedView.GetProperty("phone").GetString(), convertedView.GetProperty("phoneType").GetString()));
    }

    async Task<JsonElement> GetAsync(string path)
    {
        using var response = await app.Client.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>Reads the view until a read comes from the cache, and returns that read.</summary>
    async Task<JsonElement> CachedAsync(string path)
    {
        JsonElement view = default;
        await Eventually.Until(async () => (view = await GetAsync(path)).GetProperty("cached").GetBoolean(), Settles, $"{path} cached");
        return view;
    }

    async Task<JsonElement> ViewWhen(string path, Func<JsonElement, bool> condition)
    {
        JsonElement view = default;
        await Eventually.Until(async () => condition(view = await GetAsync(path)), Settles, $"{path} as expected");
        return view;
    }

    static string WithoutCached(JsonElement view) =>
        JsonSerializer.Serialize(view.EnumerateObject().Where(p => p.Name != "cached").ToDictionary(p => p.Name, p => p.Value));
}
