using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Cdp.Shared.Cleansing;
using Cdp.Shared.Conversion;
using Cdp.Shared.Messaging;
using Cdp.Shared.Storage;
using Cdp.Tests.Support;
using Dapper;
using Microsoft.Extensions.DependencyInjection;

namespace Cdp.Tests.Conversion;

/// <summary>
/// The local host with no notification consumer, so the published notification stays in topic_message to be read
/// (Notifications/NotifyOwnerTests has the consumer's side).
/// </summary>
public sealed class ConvertLeadApp : CdpApp
{
    // These tests read the 200 answer: 30 s of waiting (not 5) so a busy machine's slow conversion is not a 202.
    protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings =>
        [new("Topics:notification:Enabled", "false"), new("Conversion:WaitTimeout", "00:00:30")];
}

/// <summary>POST /api/leads/{id}/convert end to end: the local host in-process, its durable engine, real Postgres.</summary>
public sealed class ConvertLeadTests(ConvertLeadApp app) : IClassFixture<ConvertLeadApp>
{
    const string City = ConversionData.City;

    [Fact]
    public async Task Converts_a_crm_lead_into_a_new_contact_and_account()
    {
        var mobile = TestData.Mobile();
        var email = TestData.Email();
        var company = Company();
        var (ingestionId, _) = await CdpApp.IngestAsync(app.Client, "crm", Payloads.Crm("lead",
            new { LastName = "李", FirstName = "娜", Company = company, MobilePhone = mobile, Email = email, City, Title = "采购经理" }));
        var leadId = (await CdpApp.SettledAsync(app.Client, ingestionId)).EntityId!.Value;

        var converted = await ConvertOk(leadId);

        Assert.Equal(leadId, converted.LeadId);
        Assert.Null(converted.OpportunityId);
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        var lead = await conn.QuerySingleAsync<(string Status, DateTime? At, Guid? Contact, Guid? Account)>(
            "select lead_status, converted_at, converted_contact_id, converted_account_id from lead where lead_id = @leadId", new { leadId });
        Assert.Equal(("converted", converted.ContactId, converted.AccountId), (lead.Status, lead.Contact, lead.Account));
        Assert.NotNull(lead.At);
        var contact = await conn.QuerySingleAsync<(string Name, string Mobile, string Email, Guid? Primary)>(
            "select contact_name, mobile_phone, email, primary_account_id from contact where contact_id = @ContactId", converted);
        Assert.Equal(("李娜", mobile, email, converted.AccountId), contact);
        Assert.Equal(company, await conn.QuerySingleAsync<string>("select account_name from account where account_id = @AccountId", converted));
        Assert.True(await conn.QuerySingleAsync<bool>(
            "select is_primary_contact from account_contact_relation where account_id = @AccountId and contact_id = @ContactId", converted));

        // The summary-calculation messages are consumed by the summaries (asynchronously): they show as computed summaries.
        var messages = await Messages(conn, $"lead:{leadId}", $"contact:{converted.ContactId}", $"account:{converted.AccountId}");
        Assert.Equal([(Topics.Notification, $"lead:{leadId}")], messages.Where(m => m.Topic != Topics.SummaryCalculation).Select(m => (m.Topic, m.Key)));
        await SummariesComputedAfterConversion(leadId, converted.ContactId, converted.AccountId);
        var notification = JsonDocument.Parse(messages.Single(m => m.Topic == Topics.Notification).Payload).RootElement;
        Assert.Equal(("lead_converted", converted.ContactId.ToString(), true),
            (notification.GetProperty("type").GetString(), notification.GetProperty("contactId").GetString(), notification.GetProperty("contactCreated").GetBoolean()));
    }

    [Fact]
    public async Task Converts_with_an_opportunity_and_copies_the_leads_channel_identities()
    {
        var openId = TestData.Id("openid");
        var leadId = await InsertLead(TestData.Mobile(), TestData.Email(), Company(), openId: openId);

        var converted = await ConvertOk(leadId, new { opportunity = new { name = "年度采购", amount = 120000.50m, stage = "closed_won" }, ownerId = "sales-7" });

        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        var opportunity = await conn.QuerySingleAsync<(Guid Account, Guid Contact, Guid Lead, string Name, decimal Amount, string Stage, bool Won, string Owner)>(
            "select account_id, contact_id, lead_id, opportunity_name, amount, stage, is_won, owner_id from opportunity where opportunity_id = @OpportunityId", converted);
        Assert.Equal((converted.AccountId!.Value, converted.ContactId!.Value, leadId, "年度采购", 120000.50m, "closed_won", true, "sales-7"), opportunity);
        Assert.Equal(converted.OpportunityId, await conn.QuerySingleAsync<Guid?>("select converted_opportunity_id from lead where lead_id = @leadId", new { leadId }));
        Assert.Equal(converted.ContactId, await conn.QuerySingleAsync<Guid>(
            "select contact_id from contact_channel_identity where identity_type = 'wechat_openid' and channel_user_id = @openId", new { openId }));
        Assert.Single(await Messages(conn, $"lead:{leadId}"), m => m.Topic == Topics.Notification);
        await SummariesComputedAfterConversion(leadId, converted.ContactId, converted.AccountId);
    }

    [Fact]
    public async Task A_salesforce_stage_is_stored_in_its_own_words_and_counts_towards_the_win_rate()
    {
        var leadId = await InsertLead(TestData.Mobile(), null, Company());

        var converted = await ConvertOk(leadId, new { opportunity = new { name = "Renewal", amount = 10m, stage = "Closed Lost" } });

        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        Assert.Equal(("Closed Lost", true, false), await conn.QuerySingleAsync<(string, bool, bool)>(
            "select stage, is_closed, is_won from opportunity where opportunity_id = @OpportunityId", converted));
        await SummariesComputedAfterConversion(leadId, converted.ContactId, converted.AccountId);
        Assert.Equal(0m, await conn.QuerySingleAsync<decimal?>(
            "select win_rate from account_summary where account_id = @AccountId", converted));
    }

    [Fact]
    public async Task Reuses_the_contact_with_the_same_mobile_and_the_account_with_the_same_company()
    {
        var mobile = TestData.Mobile();
        var email = TestData.Email();
        var company = Company();
        var accountId = await InsertAccount(company);
        var contactId = Guid.CreateVersion7();
        await using (var conn = await app.Database.DataSource.OpenConnectionAsync())
        {
            await conn.ExecuteAsync("""
                insert into contact (contact_id, contact_name, mobile_phone, title, shard_id)
                values (@contactId, '老客户', @mobile, '总监', @shard)
                """, new { contactId, mobile, shard = Shard.Of(contactId) });
        }
        var leadId = await InsertLead(mobile, email, company, title: null);

        var converted = await ConvertOk(leadId);

        Assert.Equal((contactId, accountId), (converted.ContactId, converted.AccountId));
        await using var check = await app.Database.DataSource.OpenConnectionAsync();
        // The lead fills what the contact lacked (email) and leaves what it does not know (title) alone.
        Assert.Equal((email, "总监"), await check.QuerySingleAsync<(string, string)>(
            "select email, title from contact where contact_id = @contactId", new { contactId }));
        Assert.Equal(1, await check.QuerySingleAsync<int>("select count(*)::int from contact where mobile_phone = @mobile", new { mobile }));
        var notification = JsonDocument.Parse((await Messages(check, $"lead:{leadId}")).Single(m => m.Topic == Topics.Notification).Payload).RootElement;
        Assert.False(notification.GetProperty("contactCreated").GetBoolean());
        Assert.False(notification.GetProperty("accountCreated").GetBoolean());
    }

    [Fact]
    public async Task Converting_again_is_409_naming_the_earlier_contact_and_account()
    {
        var leadId = await InsertLead(TestData.Mobile(), null, Company());
        var first = await ConvertOk(leadId);

        using var again = await Convert(leadId, new { opportunity = new { name = "再来一次", amount = 1, stage = "proposal" } });

        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        var problem = await again.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal((first.ContactId.ToString(), first.AccountId.ToString()),
            (problem.GetProperty("contactId").GetString(), problem.GetProperty("accountId").GetString()));
        Assert.Contains(first.ContactId.ToString()!, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        Assert.Equal(0, await conn.QuerySingleAsync<int>("select count(*)::int from opportunity where lead_id = @leadId", new { leadId }));
    }

    [Fact]
    public async Task Ten_concurrent_requests_convert_once_and_agree_on_the_ids()
    {
        var mobile = TestData.Mobile();
        var leadId = await InsertLead(mobile, TestData.Email(), Company());

        var responses = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ =>
            Convert(leadId, new { opportunity = new { name = "并发商机", amount = 10, stage = "qualification" } })));

        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        var recorded = await conn.QuerySingleAsync<(Guid Contact, Guid Account, Guid Opportunity)>(
            "select converted_contact_id, converted_account_id, converted_opportunity_id from lead where lead_id = @leadId", new { leadId });
        foreach (var response in responses)
        {
            var body = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.Conflict, $"{response.StatusCode}: {body}");
            Assert.Equal((recorded.Contact.ToString(), recorded.Account.ToString()),
                (body.GetProperty("contactId").GetString(), body.GetProperty("accountId").GetString()));
            response.Dispose();
        }
        Assert.Contains(responses, r => r.StatusCode == HttpStatusCode.OK);
        Assert.Equal(1, await conn.QuerySingleAsync<int>("select count(*)::int from contact where mobile_phone = @mobile", new { mobile }));
        Assert.Equal(1, await conn.QuerySingleAsync<int>("select count(*)::int from opportunity where lead_id = @leadId", new { leadId }));
        Assert.Single(await Messages(conn, $"lead:{leadId}"), m => m.Topic == Topics.Notification);
    }

    [Fact]
    public async Task A_failure_late_in_the_transaction_leaves_nothing_behind()
    {
        var mobile = TestData.Mobile();
        var company = Company();
        var leadId = await InsertLead(mobile, TestData.Email(), company);
        var conversion = app.Services.GetRequiredService<LeadConversion>();
        conversion.BeforeCommit = command => command.Request.LeadId == leadId
            ? throw new InvalidOperationException("Injected failure before commit")
            : Task.CompletedTask;
        try
        {
            using var failed = await Convert(leadId, new { opportunity = new { name = "不会存在", amount = 5, stage = "proposal" } });
            Assert.True(failed.StatusCode is HttpStatusCode.ServiceUnavailable or HttpStatusCode.Accepted, failed.StatusCode.ToString());
            var orchestrations = app.Services.GetRequiredService<Cdp.Orchestrations.IOrchestrationClient>();
            var status = await orchestrations.WaitForCompletionAsync($"convert-lead-{leadId}", TimeSpan.FromSeconds(30));
            Assert.Equal(Cdp.Orchestrations.OrchestrationRuntimeStatus.Failed, status.RuntimeStatus);
        }
        finally
        {
            conversion.BeforeCommit = null;
        }

        await using (var conn = await app.Database.DataSource.OpenConnectionAsync())
        {
            Assert.Equal(("new", (Guid?)null), await conn.QuerySingleAsync<(string, Guid?)>(
                "select lead_status, converted_contact_id from lead where lead_id = @leadId", new { leadId }));
            Assert.Equal(0, await conn.QuerySingleAsync<int>("select count(*)::int from contact where mobile_phone = @mobile", new { mobile }));
            Assert.Equal(0, await conn.QuerySingleAsync<int>("select count(*)::int from account where account_name = @company", new { company }));
            Assert.Equal(0, await conn.QuerySingleAsync<int>("select count(*)::int from opportunity where lead_id = @leadId", new { leadId }));
            Assert.Empty(await Messages(conn, $"lead:{leadId}"));
        }

        // The failed run is finished, so asking again runs the conversion afresh.
        var converted = await ConvertOk(leadId);
        Assert.NotNull(converted.ContactId);
    }

    [Fact]
    public async Task Unknown_lead_is_404()
    {
        using var response = await Convert(Guid.NewGuid(), null);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Theory]
    [InlineData("""{"opportunity":{"name":"","amount":1,"stage":"proposal"}}""", "opportunity.name")]
    [InlineData("""{"opportunity":{"name":"商机","amount":-1,"stage":"proposal"}}""", "opportunity.amount")]
    [InlineData("""{"opportunity":{"name":"商机","amount":1,"stage":"won"}}""", "opportunity.stage")]
    public async Task Bad_opportunity_is_422_and_converts_nothing(string json, string field)
    {
        var leadId = await InsertLead(TestData.Mobile(), null, Company());

        using var response = await app.Client.PostAsync($"/api/leads/{leadId}/convert", new StringContent(json, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
        Assert.False((await State(leadId))!.IsConverted);
    }

    [Theory]
    [InlineData("{not json")]
    [InlineData("""{"opportunity":{"name":"商机","amount":"lots"}}""")]
    [InlineData("[1,2]")]
    public async Task Malformed_body_is_400(string json)
    {
        var leadId = await InsertLead(TestData.Mobile(), null, Company());
        using var response = await app.Client.PostAsync($"/api/leads/{leadId}/convert", new StringContent(json, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task Ambiguous_company_is_422_with_the_candidates_and_accountId_chooses()
    {
        var company = Company();
        var first = await InsertAccount(company);
        var second = await InsertAccount(company);
        var mobile = TestData.Mobile();
        var leadId = await InsertLead(mobile, null, company);

        using var ambiguous = await Convert(leadId, null);

        Assert.Equal(HttpStatusCode.UnprocessableEntity, ambiguous.StatusCode);
        var problem = await ambiguous.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal([first, second], problem.GetProperty("candidates").EnumerateArray().Select(c => c.GetProperty("accountId").GetGuid()).Order());
        Assert.True(problem.GetProperty("errors").TryGetProperty("accountId", out _));
        await using (var conn = await app.Database.DataSource.OpenConnectionAsync())
            Assert.Equal(0, await conn.QuerySingleAsync<int>("select count(*)::int from contact where mobile_phone = @mobile", new { mobile }));

        var converted = await ConvertOk(leadId, new { accountId = second });
        Assert.Equal(second, converted.AccountId);
    }

    [Fact]
    public async Task Unknown_accountId_is_422()
    {
        var leadId = await InsertLead(TestData.Mobile(), null, Company());
        using var response = await Convert(leadId, new { accountId = Guid.NewGuid() });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.False((await State(leadId))!.IsConverted);
    }

    // ---- helpers ----------------------------------------------------------------------------------------------

    sealed record Converted(Guid LeadId, Guid? ContactId, Guid? AccountId, Guid? OpportunityId);

    static string Company() => ConversionData.Company();

    Task<HttpResponseMessage> Convert(Guid leadId, object? body) =>
        body is null
            ? app.Client.PostAsync($"/api/leads/{leadId}/convert", null)
            : app.Client.PostAsJsonAsync($"/api/leads/{leadId}/convert", body);

    async Task<Converted> ConvertOk(Guid leadId, object? body = null)
    {
        using var response = await Convert(leadId, body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.StatusCode}: {text}");
        return JsonSerializer.Deserialize<Converted>(text, Shared.CdpJson.Options)!;
    }

    Task<LeadConversionState?> State(Guid leadId) =>
        app.Services.GetRequiredService<LeadConversion>().GetStateAsync(leadId, CancellationToken.None);

    Task<Guid> InsertLead(string mobile, string? email, string company, string? openId = null, string? title = "经理") =>
        ConversionData.InsertLeadAsync(app.Database.DataSource, mobile, email, company, openId, title);

    Task<Guid> InsertAccount(string company) => ConversionData.InsertAccountAsync(app.Database.DataSource, company);

    /// <summary>The conversion published a summary recalculation of the lead, its contact and its account (outbox): all three ran.</summary>
    async Task SummariesComputedAfterConversion(Guid leadId, Guid? contactId, Guid? accountId)
    {
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        await Eventually.Until(async () => await conn.QuerySingleAsync<bool>("""
            select coalesce((select s.calculated_at >= l.converted_at from lead_summary s join lead l using (lead_id) where lead_id = @leadId), false)
               and coalesce((select calculated_at >= (select converted_at from lead where lead_id = @leadId) from contact_summary where contact_id = @contactId), false)
               and coalesce((select calculated_at >= (select converted_at from lead where lead_id = @leadId) from account_summary where account_id = @accountId), false)
            """, new { leadId, contactId, accountId }), TimeSpan.FromSeconds(20), "summaries recalculated after the conversion");
    }

    static async Task<List<(string Topic, string Key, string Payload)>> Messages(Npgsql.NpgsqlConnection conn, params string[] keys) =>
        (await conn.QueryAsync<(string, string, string)>(
            "select topic, message_key, payload::text from topic_message where message_key = any(@keys) order by message_id", new { keys })).ToList();
}
