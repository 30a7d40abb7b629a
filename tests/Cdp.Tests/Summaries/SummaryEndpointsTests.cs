using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Cdp.Orchestrations;
using Cdp.Orchestrations.Summaries;
using Cdp.Shared.Tagging;
using Cdp.Tests.Support;
using Dapper;
using Microsoft.Extensions.DependencyInjection;

namespace Cdp.Tests.Summaries;

/// <summary>The summaries through the local host in-process: consumer, full recalculation, GET /api/leads/{id}.</summary>
public sealed class SummaryEndpointsTests(CdpApp app) : IClassFixture<CdpApp>
{
    [Fact]
    public async Task An_unknown_lead_is_404()
    {
        using var response = await app.Client.GetAsync($"/api/leads/{Guid.NewGuid()}");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task An_ingested_lead_gets_its_summary_and_score_through_the_topic()
    {
        var (ingestionId, _) = await CdpApp.IngestAsync(app.Client, "crm", Payloads.Crm("lead",
            new { LastName = "周", FirstName = "杰", Company = "汇总" + TestData.CompanyWord() + "有限公司", MobilePhone = TestData.Mobile(), Email = TestData.Email(), City = "上海", Title = "总监" }));
        var leadId = (await CdpApp.SettledAsync(app.Client, ingestionId)).EntityId!.Value;

        JsonElement lead = default;
        await Eventually.Until(async () =>
        {
            lead = await app.Client.GetFromJsonAsync<JsonElement>($"/api/leads/{leadId}");
            return lead.GetProperty("summary").ValueKind == JsonValueKind.Object;
        }, TimeSpan.FromSeconds(20), "the lead's summary");

        Assert.Equal(leadId, lead.GetProperty("leadId").GetGuid());
        Assert.Equal(1, lead.GetProperty("summary").GetProperty("totalEvents").GetInt32());   // the CRM record
        // profile 25 + crm 20 + active within 7 days (the record was just seen) 15
        Assert.Equal(60, lead.GetProperty("score").GetInt32());
        Assert.Equal("B", lead.GetProperty("grade").GetString());
        Assert.Contains(lead.GetProperty("scoreReasons").EnumerateArray(), r => r.GetProperty("factor").GetString() == "channel");
        Assert.Equal(JsonValueKind.Array, lead.GetProperty("tags").ValueKind);
        Assert.Equal(JsonValueKind.Array, lead.GetProperty("computedTags").ValueKind);
    }

    [Fact]
    public async Task An_ingested_contact_gets_its_summary_and_its_new_account_follows()
    {
        var (ingestionId, _) = await CdpApp.IngestAsync(app.Client, "crm", Payloads.Crm("contact",
            new { LastName = "吴", FirstName = "磊", Company = "跟随" + TestData.CompanyWord() + "有限公司", City = "上海", MobilePhone = TestData.Mobile() }));
        var settled = await CdpApp.SettledAsync(app.Client, ingestionId);
        var contactId = settled.EntityId!.Value;

        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        var accountId = await conn.QuerySingleAsync<Guid>("select primary_account_id from contact where contact_id = @contactId", new { contactId });
        await Eventually.Until(async () => await conn.QuerySingleAsync<bool>("""
            select exists (select 1 from contact_summary where contact_id = @contactId)
               and exists (select 1 from account_summary where account_id = @accountId and total_contacts = 1)
            """, new { contactId, accountId }), TimeSpan.FromSeconds(20), "contact and account summaries");
    }

    [Fact]
    public async Task Admin_recalculate_runs_the_full_recalculation_to_completion_and_shows_staff_and_computed_tags()
    {
        var h = new SummaryHistory(app.Database.DataSource);
        var leadId = await h.LeadAsync("wechat");
        var contactId = await h.ContactAsync(null);
        for (var i = 0; i < 3; i++) await h.TouchpointAsync(DateTimeOffset.UtcNow.AddHours(-i), "form_submit", leadId: leadId);
        await using (var conn = await app.Database.DataSource.OpenConnectionAsync())
        {
            await conn.ExecuteAsync("insert into customer_tag (contact_id, tag) values (@contactId, '重点客户')", new { contactId });
            await conn.ExecuteAsync("update lead set converted_contact_id = @contactId where lead_id = @leadId", new { contactId, leadId });
        }

        using var response = await app.Client.PostAsync("/api/admin/summaries/recalculate", null);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        Assert.Equal(RecalculateAllSummariesOrchestrator.InstanceId, id);

        var status = await app.Services.GetRequiredService<IOrchestrationClient>().WaitForCompletionAsync(id, TimeSpan.FromSeconds(30));
        Assert.Equal(OrchestrationRuntimeStatus.Completed, status.RuntimeStatus);
        var result = status.ReadOutputAs<RecalculateAllSummariesResult>()!;
        Assert.True(result.Leads >= 1 && result.Contacts >= 1, $"queued {result}");

        JsonElement lead = default;
        await Eventually.Until(async () =>
        {
            lead = await app.Client.GetFromJsonAsync<JsonElement>($"/api/leads/{leadId}");
            return lead.GetProperty("computedTags").GetArrayLength() > 0;
        }, TimeSpan.FromSeconds(20), "the lead's computed tags");
        Assert.Equal(TagRules.HighIntent, lead.GetProperty("computedTags")[0].GetProperty("tag").GetString());
        Assert.Equal(["重点客户"], lead.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal(3, lead.GetProperty("summary").GetProperty("formSubmissions").GetInt32());
        await using var check = await app.Database.DataSource.OpenConnectionAsync();
        await Eventually.Until(async () => await check.QuerySingleAsync<int>(
            "select count(*)::int from contact_summary where contact_id = @contactId", new { contactId }) == 1, TimeSpan.FromSeconds(20), "contact summary");
    }

    [Fact]
    public async Task After_a_scripted_history_and_a_conversion_the_account_summary_is_exact()
    {
        var h = new SummaryHistory(app.Database.DataSource);
        var company = "历史" + TestData.CompanyWord() + "有限公司";
        var accountId = await h.AccountAsync(company);
        var c1 = await h.ContactAsync(accountId);
        await h.ContactAsync(accountId);
        await h.OpportunityAsync(accountId, 1200m, "closed_won", c1);
        await h.OpportunityAsync(accountId, 800m, "closed_lost");
        await h.OpportunityAsync(accountId, 300m, "closed_lost");
        await h.OpportunityAsync(accountId, 999m, "negotiation");
        await h.TouchpointAsync(DateTimeOffset.UtcNow.AddDays(-3), "form_submit", contactId: c1);
        var leadId = await h.LeadAsync();
        await using (var conn = await app.Database.DataSource.OpenConnectionAsync())
            await conn.ExecuteAsync("update lead set company_name = @company, city = '上海' where lead_id = @leadId", new { company, leadId });

        using var converted = await app.Client.PostAsJsonAsync($"/api/leads/{leadId}/convert",
            new { opportunity = new { name = "转化赢单", amount = 2500.25m, stage = "closed_won" } });
        Assert.Equal(HttpStatusCode.OK, converted.StatusCode);
        Assert.Equal(accountId, (await converted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accountId").GetGuid());

        // contacts 2 + the converted one; opportunities 4 + 1; won 2, lost 2; revenue 1200 + 2500.25; win rate 2 / 4.
        await using var check = await app.Database.DataSource.OpenConnectionAsync();
        (int, int, int, int, decimal, decimal?, int) summary = default;
        await Eventually.Until(async () =>
        {
            summary = await check.QuerySingleOrDefaultAsync<(int, int, int, int, decimal, decimal?, int)>("""
                select total_contacts, total_opportunities, won_opportunities, lost_opportunities, total_revenue, win_rate, health_score
                from account_summary where account_id = @accountId
                """, new { accountId });
            return summary == (3, 5, 2, 2, 3700.25m, 0.5m, 100);
        }, TimeSpan.FromSeconds(20), "the account summary after the conversion");
        Assert.Contains(TagRules.Customer, await check.QueryAsync<string>(
            "select tag from computed_tag where entity_type = 'account' and entity_id = @accountId", new { accountId }));
    }

    [Fact]
    public async Task A_second_start_while_one_runs_returns_the_same_instance()
    {
        var client = app.Services.GetRequiredService<IOrchestrationClient>();
        var first = await client.StartAsync(nameof(RecalculateAllSummariesOrchestrator), new RecalculateAllSummaries(1), RecalculateAllSummariesOrchestrator.InstanceId);
        using var response = await app.Client.PostAsync("/api/admin/summaries/recalculate", null);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(first, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString());
        Assert.Equal(OrchestrationRuntimeStatus.Completed, (await client.WaitForCompletionAsync(first, TimeSpan.FromSeconds(60))).RuntimeStatus);
    }
}
