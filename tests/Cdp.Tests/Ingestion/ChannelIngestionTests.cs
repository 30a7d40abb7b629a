using System.Net;
using System.Net.Http.Json;
using System.Text;
using Cdp.Tests.Support;
using Dapper;

namespace Cdp.Tests.Ingestion;

/// <summary>Each channel end to end through the HTTP API: signed push -> 202 -> cleansed -> resolved entity.</summary>
public sealed class ChannelIngestionTests(CdpApp app) : IClassFixture<CdpApp>
{
    readonly HttpClient client = app.Client;

    [Fact]
    public async Task Crm_lead_is_acknowledged_then_resolved_into_a_lead_with_a_canonical_mobile()
    {
        var mobile = TestData.Mobile();
        var json = Payloads.Crm("lead", new { LastName = "张", FirstName = "伟", Company = "杭州云栖科技有限公司", MobilePhone = $"+86 {mobile[..3]}-{mobile[3..7]}-{mobile[7..]}", Email = "ZHANG.Wei@Example.COM ", LeadSource = "展会" });

        var (id, duplicate) = await CdpApp.IngestAsync(client, "crm", json);
        var status = await CdpApp.SettledAsync(client, id);

        Assert.False(duplicate);
        Assert.Equal("processed", status.Status);
        Assert.Equal("lead", status.EntityType);
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        var lead = await conn.QuerySingleAsync<(string Name, string Mobile, string Email, string Channel)>(
            "select lead_name, mobile_phone, email, channel_id from lead where lead_id = @id", new { id = status.EntityId });
        Assert.Equal(("张伟", mobile, "zhang.wei@example.com", "crm"), lead);
    }

    [Fact]
    public async Task Crm_contact_with_a_company_becomes_a_contact_linked_to_its_account()
    {
        var city = "测试" + Guid.NewGuid().ToString("N")[..6];
        var company = TestData.CompanyWord() + "科技有限公司";
        var json = Payloads.Crm("contact", new { LastName = "李", FirstName = "娜", Company = company, City = city, MobilePhone = TestData.Mobile(), Title = "CTO" });

        var status = await CdpApp.SettledAsync(client, (await CdpApp.IngestAsync(client, "crm", json)).Id);

        Assert.Equal(("processed", "contact"), (status.Status, status.EntityType));
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        var accountName = await conn.QuerySingleAsync<string>("""
            select a.account_name from contact c
            join account a on a.account_id = c.primary_account_id
            join account_contact_relation r on r.account_id = a.account_id and r.contact_id = c.contact_id
            where c.contact_id = @id
            """, new { id = status.EntityId });
        Assert.Equal(company, accountName);
    }

    [Fact]
    public async Task Erp_account_with_a_credit_code_becomes_an_account_with_its_channel_identity()
    {
        var code = TestData.CreditCode();
        var sourceId = TestData.Id("erp");
        var json = Payloads.Crm("account", new { CustomerName = TestData.CompanyWord() + "贸易有限公司", CreditCode = code.ToLowerInvariant(), City = "苏州" }, sourceId);

        var status = await CdpApp.SettledAsync(client, (await IngestAsync("erp", json)).Id);

        Assert.Equal(("processed", "account"), (status.Status, status.EntityType));
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        Assert.Equal(code, await conn.QuerySingleAsync<string>("select unified_social_credit_code from account where account_id = @id", new { id = status.EntityId }));
        Assert.Equal(1, await conn.QuerySingleAsync<int>(
            "select count(*)::int from account_channel_identity where account_id = @id and channel_id = 'erp' and channel_account_id = @sourceId",
            new { id = status.EntityId, sourceId }));
    }

    [Fact]
    public async Task An_account_whose_credit_code_fails_the_check_is_kept_unverified_and_never_merged_on_it_alone()
    {
        const string code = "91350211M0000XUF46";   // fails the GB 32100 check character, as some early codes do
        var json = Payloads.Crm("account", new { CustomerName = TestData.CompanyWord() + "贸易有限公司", CreditCode = code, City = "厦门" });

        var status = await CdpApp.SettledAsync(client, (await IngestAsync("erp", json)).Id);

        Assert.Equal(("processed", "account"), (status.Status, status.EntityType));
        var account = (await client.GetFromJsonAsync<System.Text.Json.JsonElement>($"/api/accounts/{status.EntityId}")).GetProperty("account");
        Assert.Equal((code, false), (account.GetProperty("creditCode").GetString(), account.GetProperty("creditCodeVerified").GetBoolean()));
        var view = (await client.GetFromJsonAsync<System.Text.Json.JsonElement>($"/api/accounts/{status.EntityId}/360")).GetProperty("account");
        Assert.False(view.GetProperty("creditCodeVerified").GetBoolean());

        // Another company's record carrying the same unverified code waits for a person.
        var other = Payloads.Crm("account", new { CustomerName = TestData.CompanyWord() + "科技有限公司", CreditCode = code, City = "福州" });
        var second = await CdpApp.SettledAsync(client, (await IngestAsync("erp", other)).Id);
        Assert.Equal("review", second.Status);
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        Assert.Equal(1, await conn.QuerySingleAsync<int>("select count(*)::int from account where unified_social_credit_code = @code", new { code }));
    }

    [Fact]
    public async Task WeChat_form_becomes_a_lead_with_its_openid_and_utm_recorded()
    {
        var openId = TestData.Id("o");
        var json = Payloads.WeChatForm(openId, TestData.Mobile(), company: "深圳前海微众银行股份有限公司", city: "深圳市");

        var status = await CdpApp.SettledAsync(client, (await IngestAsync("wechat", json)).Id);

        Assert.Equal(("processed", "lead"), (status.Status, status.EntityType));
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        var identity = await conn.QuerySingleAsync<(string Type, string Utm)>(
            "select identity_type, utm_campaign from lead_channel_identity where lead_id = @id and channel_user_id = @openId and identity_type <> 'source_record'",
            new { id = status.EntityId, openId });
        Assert.Equal(("wechat_openid", "double11"), identity);
    }

    [Fact]
    public async Task WeCom_url_verification_answers_the_decrypted_echostr_as_plain_text()
    {
        var echo = "1616140317555161061";
        var encrypted = app.WeComCrypto.Encrypt(echo);
        var (timestamp, nonce) = ("1700000000", "n0nce");
        var signature = app.WeComCrypto.Sign(timestamp, nonce, encrypted);

        using var response = await client.GetAsync(
            $"/api/ingest/wecom?msg_signature={signature}&timestamp={timestamp}&nonce={nonce}&echostr={Uri.EscapeDataString(encrypted)}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(echo, await response.Content.ReadAsStringAsync());
        Assert.Equal("text/plain", response.Content.Headers.ContentType!.MediaType);
    }

    [Fact]
    public async Task WeCom_change_external_contact_is_fetched_from_the_api_and_becomes_a_contact()
    {
        var externalId = TestData.Id("wm");
        var mobile = TestData.Mobile();
        app.WeCom.AddContactJson(externalId, $$"""
            {"errcode":0,"errmsg":"ok","external_contact":{"external_userid":"{{externalId}}","name":"赵敏","position":"采购总监","corp_name":"明教","corp_full_name":"{{TestData.CompanyWord()}}实业有限公司","type":2,"gender":2,"unionid":"u-{{externalId}}"},
             "follow_user":[{"userid":"sales01","remark":"赵总","createtime":1700000000,"remark_mobiles":["{{mobile}}"],"tags":[]}]}
            """);
        var callback = WeComCallbacks.Build(app.WeComCrypto, WeComStandIn.DefaultCorpId,
            WeComCallbacks.ChangeExternalContactXml(WeComStandIn.DefaultCorpId, "add_external_contact", "sales01", externalId));

        using var response = await client.PostAsync($"/api/ingest/wecom?{callback.Query}", new StringContent(callback.Body, Encoding.UTF8, "text/xml"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("success", await response.Content.ReadAsStringAsync());
        var id = Guid.Parse(response.Headers.GetValues("X-Cdp-Ingestion-Id").Single());
        var status = await CdpApp.SettledAsync(client, id);
        Assert.Equal(("processed", "contact"), (status.Status, status.EntityType));
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        var contact = await conn.QuerySingleAsync<(string Name, string Mobile, string WeComId)>(
            "select contact_name, mobile_phone, wecom_external_user_id from contact where contact_id = @id", new { id = status.EntityId });
        Assert.Equal(("赵敏", mobile, externalId), contact);
    }

    [Fact]
    public async Task WeCom_resend_of_the_same_event_is_a_duplicate_even_though_it_is_encrypted_afresh()
    {
        var externalId = TestData.Id("wm");
        app.WeCom.AddContact(externalId, "周芷若", null, "sales02");
        var xml = WeComCallbacks.ChangeExternalContactXml(WeComStandIn.DefaultCorpId, "edit_external_contact", "sales02", externalId);

        var first = await PostWeComAsync(WeComCallbacks.Build(app.WeComCrypto, WeComStandIn.DefaultCorpId, xml));
        var resend = await PostWeComAsync(WeComCallbacks.Build(app.WeComCrypto, WeComStandIn.DefaultCorpId, xml));

        Assert.Equal(first, resend);
    }

    [Fact]
    public async Task WeCom_api_failing_twice_is_retried_and_the_record_still_arrives()
    {
        var externalId = TestData.Id("wm");
        app.WeCom.AddContact(externalId, "张无忌", null, "sales03");
        // More failures than the HTTP pipeline retries, so the topic's own retry has to carry it home.
        app.WeCom.FailNext(4, HttpStatusCode.InternalServerError, WeComStandIn.GetContactPath);

        var id = await PostWeComAsync(WeComCallbacks.Build(app.WeComCrypto, WeComStandIn.DefaultCorpId,
            WeComCallbacks.ChangeExternalContactXml(WeComStandIn.DefaultCorpId, "add_external_contact", "sales03", externalId)));

        var status = await CdpApp.SettledAsync(client, id, TimeSpan.FromSeconds(30));
        Assert.Equal("processed", status.Status);
    }

    [Fact]
    public async Task WeCom_contact_the_api_no_longer_knows_is_rejected_with_a_reason()
    {
        var id = await PostWeComAsync(WeComCallbacks.Build(app.WeComCrypto, WeComStandIn.DefaultCorpId,
            WeComCallbacks.ChangeExternalContactXml(WeComStandIn.DefaultCorpId, "add_external_contact", "sales04", TestData.Id("wm-unknown"))));

        var status = await CdpApp.SettledAsync(client, id);

        Assert.Equal("rejected", status.Status);
        Assert.Contains(status.Errors, e => e.Field == "externalUserId");
    }

    [Fact]
    public async Task Broken_phone_and_invalid_credit_code_are_rejected_with_reasons_not_dropped()
    {
        var json = Payloads.Crm("contact", new { LastName = "钱", FirstName = "多", MobilePhone = "138-1234-567", Email = "qian@example.com", Company = "某某有限公司", CreditCode = "9111000080210043IB" });

        var status = await CdpApp.SettledAsync(client, (await CdpApp.IngestAsync(client, "crm", json)).Id);

        Assert.Equal("rejected", status.Status);
        Assert.Contains(status.Errors, e => e.Field == "mobile");
        Assert.Contains(status.Errors, e => e.Field == "creditCode");
        Assert.DoesNotContain(status.Errors, e => e.Message.Contains("138-1234-567"));
        Assert.NotNull(status.ProcessedAt);
    }

    [Fact]
    public async Task Unknown_ingestion_is_404_problem()
    {
        using var response = await client.GetAsync($"/api/ingestions/{Guid.NewGuid()}");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
    }

    [Fact]
    public async Task Health_reports_each_dependency()
    {
        using var response = await client.GetAsync("/api/health");
        var body = await response.Content.ReadFromJsonAsync<HealthBody>();

        Assert.Equal(["postgres", "redis", "clickhouse", "topics", "orchestrations"], body!.Dependencies.Select(d => d.Name));
        Assert.True(body.Dependencies.Single(d => d.Name == "postgres").Up);
    }

    sealed record HealthBody(bool Healthy, List<DependencyBody> Dependencies);
    sealed record DependencyBody(string Name, bool Up, double LatencyMs);

    Task<(Guid Id, bool Duplicate)> IngestAsync(string channel, string json) => CdpApp.IngestAsync(client, channel, json);

    async Task<Guid> PostWeComAsync(WeComCallbacks.SignedCallback callback)
    {
        using var response = await client.PostAsync($"/api/ingest/wecom?{callback.Query}", new StringContent(callback.Body, Encoding.UTF8, "text/xml"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return Guid.Parse(response.Headers.GetValues("X-Cdp-Ingestion-Id").Single());
    }
}
