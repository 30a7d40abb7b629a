using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Cdp.Shared;
using Cdp.Shared.Access;
using Cdp.Shared.Customers;
using Cdp.Shared.Privacy;
using Cdp.Shared.Storage;
using Cdp.Tests.Support;
using Dapper;
using Microsoft.Extensions.DependencyInjection;

namespace Cdp.Tests.Privacy;

/// <summary>PIPL subject export and erasure (API.md "Privacy (PIPL)") end to end on real Postgres, Redis and ClickHouse.</summary>
public sealed class PrivacyTests(PrivacyApp app) : IClassFixture<PrivacyApp>
{
    static readonly TimeSpan Slack = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Erase_removes_the_person_from_every_Postgres_table_ClickHouse_and_Redis_leaves_a_colleague_untouched_and_recounts_the_account()
    {
        var company = "隐私" + TestData.CompanyWord() + "有限公司";
        var (mobile, email, otherMobile, otherEmail) = (TestData.Mobile(), TestData.Email(), TestData.Mobile(), TestData.Email());
        // The CRM spells the mobile with dashes: the raw payload holds that form, the contact the canonical one.
        var person = await app.CrmContactAsync(company, mobile, email, spelledMobile: $"{mobile[..3]}-{mobile[3..7]}-{mobile[7..]}");
        var colleague = await app.CrmContactAsync(company, otherMobile, otherEmail);
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        var account = await conn.QuerySingleAsync<Guid>("select primary_account_id from contact where contact_id = @person", new { person });
        var (lead, _) = await CdpApp.IngestAsync(app.Client, "crm", Payloads.Crm("lead", new { LastName = "隐", FirstName = "私", Company = company, MobilePhone = mobile }));
        await CdpApp.SettledAsync(app.Client, lead);

        using (var r = await app.Client.PutAsJsonAsync($"/api/contacts/{person}/tags", new { tags = new[] { "隐私测试" } })) Assert.True(r.IsSuccessStatusCode);
        using (var r = await app.Client.PostAsJsonAsync($"/api/contacts/{person}/follow-ups", new { content = $"客户手机 {mobile} 邮箱 {email}", channel = "phone" }))
            Assert.True(r.IsSuccessStatusCode);
        await app.PostEventsAsync(PrivacyApp.Event("web-" + person, person), PrivacyApp.Event("web-" + person, null), PrivacyApp.Event("web-" + colleague, colleague));
        await Eventually.Until(async () => await app.ClickHouseCount($"user_id = '{app.UserHash("web-" + person)}'") == 2
            && await app.ClickHouseCount($"contact_id = toUUID('{colleague}')") == 1, Slack, "events in ClickHouse");
        await Eventually.Until(async () => await conn.QuerySingleAsync<int?>(
            "select total_contacts from account_summary where account_id = @account", new { account }) == 2, Slack, "account counts two contacts");
        var redis = app.Services.GetRequiredService<RedisConnection>().Database;
        // Cached in Redis (read again while a pending summary still deletes the view).
        await Eventually.Until(async () =>
        {
            foreach (var id in new[] { person, colleague })
                Assert.Equal(HttpStatusCode.OK, (await app.Client.GetAsync($"/api/contacts/{id}/360")).StatusCode);
            return await redis.KeyExistsAsync(CustomerViewCache.Keys.Of(CustomerRef.Contact(person)).Value);
        }, Slack, "the person's view cached");
        // A privacy-number binding of the person (seed 002): A is their number.
        await conn.ExecuteAsync("""
            insert into virtual_binding (binding_id, request_id, mode, state, phone_a, phone_b, virtual_number, contact_id, expires_at)
            values (gen_random_uuid(), @request, 'AXB', 'BIND', @mobile, @staff, '17100000000', @person, now() + interval '1 hour')
            """, new { request = "privacy-" + person, mobile, staff = TestData.Mobile(), person });
        Assert.Contains("virtual_binding.phone_a", await app.WhereInPostgresAsync(mobile));
        Assert.NotEmpty(await app.WhereInPostgresAsync(mobile));

        using var erase = await app.Client.PostAsJsonAsync("/api/privacy/subjects/erase", new { mobile, email, reason = "本人申请删除" });
        Assert.Equal(HttpStatusCode.Accepted, erase.StatusCode);
        var requestId = (await erase.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("requestId").GetGuid();
        var request = await PrivacyApp.WaitForRequestAsync(app.Client, requestId, Slack);

        Assert.Equal(["contact", "lead"], new[] { "contact", "lead" }.Where(t => request.GetProperty("progress").GetProperty("postgres").TryGetProperty(t, out _)));
        Assert.Empty(await app.WhereInPostgresAsync(mobile));
        Assert.Empty(await app.WhereInPostgresAsync(email));
        Assert.Equal(0, await app.ClickHouseCount($"contact_id = toUUID('{person}') OR user_id = '{app.UserHash("web-" + person)}'"));
        Assert.Equal(0, await app.ClickHouseCopiesCount($"contact_id = toUUID('{person}') OR user_id = '{app.UserHash("web-" + person)}'"));
        Assert.False(await redis.KeyExistsAsync(CustomerViewCache.Keys.Of(CustomerRef.Contact(person)).Value));
        Assert.False(await redis.KeyExistsAsync(CustomerViewCache.Keys.Of(CustomerRef.Contact(person)).Masked));
        Assert.Equal(HttpStatusCode.NotFound, (await app.Client.GetAsync($"/api/contacts/{person}/360")).StatusCode);

        // The colleague: every row, event and view still there.
        Assert.Contains("contact.mobile_phone", await app.WhereInPostgresAsync(otherMobile));
        Assert.Equal(1, await app.ClickHouseCount($"contact_id = toUUID('{colleague}')"));
        Assert.Equal(1, await app.ClickHouseCopiesCount($"contact_id = toUUID('{colleague}')"));
        Assert.Equal(HttpStatusCode.OK, (await app.Client.GetAsync($"/api/contacts/{colleague}/360")).StatusCode);
        await Eventually.Until(async () => await conn.QuerySingleAsync<int?>(
            "select total_contacts from account_summary where account_id = @account", new { account }) == 1, Slack, "the account recounted");

        // Audited without the person: the rows name the request and the subject's keyed hash.
        var subject = app.Services.GetRequiredService<SubjectHash>().Subject(mobile, email);
        Assert.Equal(1, await conn.QuerySingleAsync<int>(
            "select count(*)::int from audit_log where action = @RequestAction and entity_id = @id and detail->>'subject' = @subject",
            new { EraseSubject.RequestAction, id = requestId.ToString(), subject }));
        Assert.Equal(1, await conn.QuerySingleAsync<int>(
            "select count(*)::int from audit_log where action = @EraseAction and entity_id = @id", new { EraseSubject.EraseAction, id = requestId.ToString() }));
    }

    [Fact]
    public async Task Export_lists_what_one_persons_document_holds_across_the_three_stores_and_is_audited_by_hash()
    {
        var company = "导出" + TestData.CompanyWord() + "有限公司";
        var (mobile, email) = (TestData.Mobile(), TestData.Email());
        var person = await app.CrmContactAsync(company, mobile, email);
        using (var r = await app.Client.PostAsJsonAsync($"/api/contacts/{person}/follow-ups", new { content = "电话回访", channel = "phone" })) Assert.True(r.IsSuccessStatusCode);
        await app.PostEventsAsync(PrivacyApp.Event("web-" + person, person, "download"));
        await Eventually.Until(async () => await app.ClickHouseCount($"contact_id = toUUID('{person}')") == 1, Slack, "the event in ClickHouse");
        var viewKey = CustomerViewCache.Keys.Of(CustomerRef.Contact(person)).Value;

        // The summaries the follow-up and the event trigger delete the cached view again: read it until the export finds it.
        JsonElement doc = default;
        await Eventually.Until(async () =>
        {
            Assert.Equal(HttpStatusCode.OK, (await app.Client.GetAsync($"/api/contacts/{person}/360")).StatusCode);
            using var response = await app.Client.PostAsJsonAsync("/api/privacy/subjects/export", new { email = email.ToUpperInvariant() });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            doc = await response.Content.ReadFromJsonAsync<JsonElement>();
            return doc.GetProperty("redis").TryGetProperty(viewKey, out _);
        }, Slack, "the export lists the cached view");

        Assert.Equal([person], doc.GetProperty("entities").GetProperty("contacts").EnumerateArray().Select(e => e.GetGuid()));
        var postgres = doc.GetProperty("postgres");
        Assert.Equal(mobile, postgres.GetProperty("contact")[0].GetProperty("mobile_phone").GetString());
        Assert.Equal("电话回访", postgres.GetProperty("follow_up")[0].GetProperty("content").GetString());
        Assert.Contains(mobile, postgres.GetProperty("ingestion_receipt")[0].GetProperty("payload").GetString());
        Assert.Equal(1, postgres.GetProperty("contact_channel_identity").GetArrayLength());
        Assert.Equal(1, postgres.GetProperty("account_contact_relation").GetArrayLength());
        Assert.True(postgres.GetProperty("touchpoint").GetArrayLength() >= 1);
        Assert.Equal(JsonValueKind.Array, postgres.GetProperty("lead").ValueKind);
        var view = doc.GetProperty("redis").GetProperty(viewKey);
        Assert.Equal(person, view.GetProperty("contact").GetProperty("contactId").GetGuid());
        var events = doc.GetProperty("clickhouse").GetProperty("behaviour_event");
        Assert.Equal(["download"], events.EnumerateArray().Select(e => e.GetProperty("event_type").GetString()));
        Assert.Equal(app.UserHash("web-" + person), events[0].GetProperty("user_id").GetString());   // stored hashed
        Assert.Equal(0, doc.GetProperty("unavailable").GetArrayLength());

        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        var audit = await conn.QuerySingleAsync<(string EntityId, string Detail)>(
            "select entity_id, detail::text from audit_log where action = @ExportAction order by audit_id desc limit 1",
            new { ExportAction = ExportSubject.AuditAction });
        Assert.Equal(app.Services.GetRequiredService<SubjectHash>().Subject(null, email), audit.EntityId);
        Assert.DoesNotContain(mobile, audit.Detail);
        Assert.DoesNotContain(email, audit.Detail);
    }

    [Theory]
    [InlineData("/api/privacy/subjects/export", """{}""", "mobile")]
    [InlineData("/api/privacy/subjects/export", """{"mobile":"12345"}""", "mobile")]
    [InlineData("/api/privacy/subjects/export", """{"email":"not-an-address"}""", "email")]
    [InlineData("/api/privacy/subjects/erase", """{"mobile":"13812345678"}""", "reason")]
    [InlineData("/api/privacy/subjects/erase", """{"reason":"x"}""", "mobile")]
    public async Task A_request_naming_nobody_or_a_malformed_identifier_is_422_naming_the_field(string path, string body, string field)
    {
        using var response = await app.Client.PostAsync(path, new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.True((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty(field, out _));
    }

    [Fact]
    public async Task A_caller_without_privacy_manage_gets_403_on_every_privacy_route_and_one_with_it_does_not()
    {
        using var reader = await ApiKeyCaller.CreateAsync(app, Permissions.CustomersRead, Permissions.PiiReveal);
        using var manager = await ApiKeyCaller.CreateAsync(app, Permissions.PrivacyManage);
        var body = new { mobile = TestData.Mobile(), reason = "test" };
        foreach (var (client, expected) in new[] { (reader.Client, HttpStatusCode.Forbidden), (manager.Client, HttpStatusCode.OK) })
        {
            using (var r = await client.PostAsJsonAsync("/api/privacy/subjects/export", body)) Assert.Equal(expected, r.StatusCode);
            using (var r = await client.GetAsync($"/api/privacy/requests/{Guid.NewGuid()}"))
                Assert.Equal(expected == HttpStatusCode.OK ? HttpStatusCode.NotFound : expected, r.StatusCode);
        }
        using (var r = await reader.Client.PostAsJsonAsync("/api/privacy/subjects/erase", body)) Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode);
        using (var r = await app.Anonymous.PostAsJsonAsync("/api/privacy/subjects/erase", body)) Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
    }
}
