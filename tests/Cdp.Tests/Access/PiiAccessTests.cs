using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Cdp.Shared.Access;
using Cdp.Shared.Customers;
using Cdp.Shared.Storage;
using Cdp.Tests.Support;
using Dapper;
using Microsoft.Extensions.DependencyInjection;

namespace Cdp.Tests.Access;

/// <summary>
/// Personal data in the answers: masked for a caller without pii:reveal, in full with it, never crossing over through
/// the cache; a reveal of one field; one audit row per read, none of them holding the data.
/// </summary>
public sealed class PiiAccessTests(CdpApp app) : IClassFixture<CdpApp>
{
    sealed record Person(
        Guid AccountId, Guid ContactId, Guid LeadId, string Mobile, string Email, string UnionId, string ExternalUserId, string OpenId,
        string LeadMobile, string LeadEmail)
    {
        public IEnumerable<string> Secrets => [Mobile, Email, UnionId, ExternalUserId, OpenId, LeadMobile, LeadEmail];
    }

    [Fact]
    public async Task A_reader_without_pii_reveal_sees_every_view_masked_and_each_read_is_audited()
    {
        var p = await PersonAsync();
        var (reader, actor) = await ApiKeyCaller.CreateAsync(app, Permissions.CustomersRead);

        var contact360 = await GetAsync(reader, $"/api/contacts/{p.ContactId}/360", p);
        Assert.True(contact360.GetProperty("masked").GetBoolean());
        var contact = contact360.GetProperty("contact");
        Assert.Equal(
            (PiiMask.Phone(p.Mobile), PiiMask.Email(p.Email), "021****5678", PiiMask.ChannelUserId(p.UnionId), PiiMask.ChannelUserId(p.ExternalUserId)),
            (Text(contact, "mobilePhone"), Text(contact, "email"), Text(contact, "phone"), Text(contact, "weChatId"), Text(contact, "weComExternalUserId")));
        var identities = contact360.GetProperty("channelIdentities").EnumerateArray()
            .ToDictionary(i => Text(i, "identityType")!, i => Text(i, "channelUserId"));
        Assert.Equal(PiiMask.ChannelUserId(p.OpenId), identities["wechat_openid"]);
        Assert.Equal("crm-" + p.ContactId.ToString("N"), identities["source_record"]);   // a CRM record id is nobody's
        Assert.Equal($"客户说打 {PiiMask.Phone(p.Mobile)}", Text(contact360.GetProperty("followUps")[0], "content"));

        var account360 = await GetAsync(reader, $"/api/accounts/{p.AccountId}/360", p);
        var member = Assert.Single(account360.GetProperty("contacts").EnumerateArray());
        Assert.Equal((PiiMask.Phone(p.Mobile), PiiMask.Email(p.Email)), (Text(member, "mobilePhone"), Text(member, "email")));

        var lead = await GetAsync(reader, $"/api/leads/{p.LeadId}", p);
        Assert.Equal((PiiMask.Phone(p.LeadMobile), PiiMask.Email(p.LeadEmail), true),
            (Text(lead, "mobilePhone"), Text(lead, "email"), lead.GetProperty("masked").GetBoolean()));

        await GetAsync(reader, $"/api/accounts/{p.AccountId}", p);

        Assert.Equal(
            new[] { ("account", p.AccountId.ToString()), ("account", p.AccountId.ToString()), ("contact", p.ContactId.ToString()), ("lead", p.LeadId.ToString()) },
            (await AuditAsync(actor, PiiReads.ReadAction)).Select(r => (r.EntityType!, r.EntityId!)).Order());
        Assert.All(await AuditAsync(actor, PiiReads.ReadAction), r => Assert.Equal("""{"masked": true}""", r.Detail));
    }

    [Fact]
    public async Task A_caller_with_pii_reveal_sees_the_views_in_full()
    {
        var p = await PersonAsync();
        var (revealer, actor) = await ApiKeyCaller.CreateAsync(app, Permissions.CustomersRead, Permissions.PiiReveal);

        var contact360 = await Get(revealer, $"/api/contacts/{p.ContactId}/360");
        var contact = contact360.GetProperty("contact");
        Assert.Equal((p.Mobile, p.Email, p.UnionId, p.ExternalUserId, false),
            (Text(contact, "mobilePhone"), Text(contact, "email"), Text(contact, "weChatId"), Text(contact, "weComExternalUserId"),
             contact360.GetProperty("masked").GetBoolean()));
        var lead = await Get(revealer, $"/api/leads/{p.LeadId}");
        Assert.Equal((p.LeadMobile, p.LeadEmail), (Text(lead, "mobilePhone"), Text(lead, "email")));

        Assert.All(await AuditAsync(actor, PiiReads.ReadAction), r => Assert.Equal("""{"masked": false}""", r.Detail));

        static async Task<JsonElement> Get(HttpClient client, string path) => await client.GetFromJsonAsync<JsonElement>(path);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Through_the_cache_each_caller_gets_its_own_form_whichever_reads_first(bool maskedFirst)
    {
        var p = await PersonAsync();
        var (reader, _) = await ApiKeyCaller.CreateAsync(app, Permissions.CustomersRead);
        var (revealer, _) = await ApiKeyCaller.CreateAsync(app, Permissions.CustomersRead, Permissions.PiiReveal);
        var callers = maskedFirst ? new[] { (reader, true), (revealer, false) } : [(revealer, false), (reader, true)];
        var path = $"/api/contacts/{p.ContactId}/360";

        var reads = 0;
        async Task ReadBothAsync(string expectedTitle, bool firstIsCached)
        {
            foreach (var (client, masked) in callers)
            {
                var body = await client.GetStringAsync(path);
                var view = JsonDocument.Parse(body).RootElement;
                Assert.Equal(masked, view.GetProperty("masked").GetBoolean());
                Assert.Equal(masked ? PiiMask.Phone(p.Mobile) : p.Mobile, Text(view.GetProperty("contact"), "mobilePhone"));
                Assert.Equal(expectedTitle, Text(view.GetProperty("contact"), "title"));
                if (masked) AssertNoPii(body, p);
                // The first read of a round loads and fills both forms; the other caller's read is a hit.
                Assert.Equal(reads++ % 2 == 1 || firstIsCached, view.GetProperty("cached").GetBoolean());
            }
        }

        await ReadBothAsync("经理", firstIsCached: false);
        await ReadBothAsync("经理", firstIsCached: true);

        // A write deletes both forms: each caller sees it, in its own form.
        await using (var conn = await app.Database.DataSource.OpenConnectionAsync())
            await conn.ExecuteAsync("update contact set title = '总监' where contact_id = @id", new { id = p.ContactId });
        await app.Services.GetRequiredService<CustomerViewCache>().InvalidateAsync(CustomerRef.Contact(p.ContactId));
        await ReadBothAsync("总监", firstIsCached: false);
    }

    [Fact]
    public async Task Reveal_gives_the_full_value_and_writes_exactly_one_audit_row_without_it()
    {
        var p = await PersonAsync();
        var (revealer, actor) = await ApiKeyCaller.CreateAsync(app, Permissions.PiiReveal);

        using var response = await revealer.PostAsJsonAsync("/api/pii/reveal", new { entityType = "contact", entityId = p.ContactId, field = "mobilePhone" });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var revealed = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(("contact", p.ContactId, "mobilePhone", p.Mobile),
            (Text(revealed, "entityType"), revealed.GetProperty("entityId").GetGuid(), Text(revealed, "field"), Text(revealed, "value")));

        // Refusals read nothing and so record nothing.
        foreach (var (body, status) in new (object, HttpStatusCode)[]
        {
            (new { entityType = "contact", entityId = Guid.NewGuid(), field = "mobilePhone" }, HttpStatusCode.NotFound),
            (new { entityType = "contact", entityId = p.ContactId, field = "name" }, HttpStatusCode.UnprocessableEntity),
            (new { entityType = "account", entityId = p.AccountId, field = "creditCode" }, HttpStatusCode.UnprocessableEntity),
            (new { entityType = "user", entityId = p.ContactId, field = "mobilePhone" }, HttpStatusCode.UnprocessableEntity),
            (new { entityType = "lead", entityId = "not-a-uuid", field = "email" }, HttpStatusCode.UnprocessableEntity),
        })
        {
            using var refused = await revealer.PostAsJsonAsync("/api/pii/reveal", body);
            Assert.Equal(status, refused.StatusCode);
        }

        var row = Assert.Single(await AuditAsync(actor, PiiReads.RevealAction));
        Assert.Equal(("contact", p.ContactId.ToString(), """{"field": "mobilePhone"}"""), (row.EntityType, row.EntityId, row.Detail));
        Assert.Single(await AuditAsync(actor, null));
        foreach (var secret in p.Secrets) Assert.DoesNotContain(secret, row.Whole, StringComparison.OrdinalIgnoreCase);

        var (reader, _) = await ApiKeyCaller.CreateAsync(app, Permissions.CustomersRead);
        using var forbidden = await reader.PostAsJsonAsync("/api/pii/reveal", new { entityType = "lead", entityId = p.LeadId, field = "email" });
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
    }

    [Fact]
    public async Task Search_by_phone_or_email_finds_the_contact_for_a_masked_caller_and_answers_masked()
    {
        var p = await PersonAsync();
        var (reader, actor) = await ApiKeyCaller.CreateAsync(app, Permissions.CustomersRead);
        var spelled = $"+86 {p.Mobile[..3]}-{p.Mobile[3..7]}-{p.Mobile[7..]}";

        foreach (var (q, echo) in new[] { (spelled, PiiMask.Phone(p.Mobile)), (p.Email.ToUpperInvariant(), PiiMask.Email(p.Email)) })
        {
            var body = await reader.GetStringAsync($"/api/search?type=contact&q={Uri.EscapeDataString(q)}");
            AssertNoPii(body, p);
            Assert.DoesNotContain(q, body, StringComparison.OrdinalIgnoreCase);
            var result = JsonDocument.Parse(body).RootElement;
            Assert.Equal(echo, Text(result, "query"));
            var match = Assert.Single(result.GetProperty("matches").EnumerateArray());
            Assert.Equal((p.ContactId, PiiMask.Phone(p.Mobile)), (match.GetProperty("id").GetGuid(), Text(match, "maskedPhone")));
        }

        var rows = await AuditAsync(actor, PiiReads.ReadAction);
        Assert.Equal(new[] { """{"term": "email", "masked": true, "results": 1}""", """{"term": "mobile", "masked": true, "results": 1}""" },
            rows.Select(r => r.Detail!).Order());
        Assert.All(rows, r => Assert.Equal(("search", null), (r.EntityType, r.EntityId)));
        foreach (var secret in p.Secrets.Append(spelled)) Assert.All(rows, r => Assert.DoesNotContain(secret, r.Whole, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>A view, asserting the body carries none of the person's data in full.</summary>
    static async Task<JsonElement> GetAsync(HttpClient client, string path, Person p)
    {
        var body = await client.GetStringAsync(path);
        AssertNoPii(body, p);
        return JsonDocument.Parse(body).RootElement;
    }

    static void AssertNoPii(string body, Person p)
    {
        foreach (var secret in p.Secrets) Assert.DoesNotContain(secret, body, StringComparison.OrdinalIgnoreCase);
    }

    static string? Text(JsonElement element, string name) => element.GetProperty(name).GetString();

    sealed record AuditRow(string? EntityType, string? EntityId, string? Detail, string Whole);

    /// <summary>The caller's audit rows (of one action, or all), each with its whole row as JSON text.</summary>
    async Task<List<AuditRow>> AuditAsync(string actor, string? action)
    {
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        return (await conn.QueryAsync<AuditRow>("""
            select entity_type as EntityType, entity_id as EntityId, detail::text as Detail, row_to_json(a)::text as Whole
            from audit_log a where actor = @actor and (@action::text is null or action = @action) order by audit_id
            """, new { actor, action })).ToList();
    }

    /// <summary>An account with one contact (every kind of personal field, an openId, a follow-up naming the mobile) and a lead.</summary>
    async Task<Person> PersonAsync()
    {
        var p = new Person(Guid.CreateVersion7(), Guid.CreateVersion7(), Guid.CreateVersion7(), TestData.Mobile(), TestData.Email(),
            "o6_" + Guid.NewGuid().ToString("N"), "wm" + Guid.NewGuid().ToString("N"), "oLV" + Guid.NewGuid().ToString("N"),
            TestData.Mobile(), TestData.Email());
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        await conn.ExecuteAsync("""
            insert into account (account_id, account_name, name_normalized, name_short, city, shard_id)
            values (@AccountId, '隐私测试有限公司', '隐私测试有限公司', '隐私测试', '上海', @accountShard);
            insert into contact (contact_id, contact_name, mobile_phone, email, phone, wechat_id, wecom_external_user_id, title, primary_account_id, shard_id)
            values (@ContactId, '王伟', @Mobile, @Email, '021-62345678', @UnionId, @ExternalUserId, '经理', @AccountId, @contactShard);
            insert into account_contact_relation (account_id, contact_id) values (@AccountId, @ContactId);
            insert into contact_channel_identity (contact_id, channel_id, channel_user_id, identity_type, first_seen_at, last_seen_at)
            values (@ContactId, 'wechat', @OpenId, 'wechat_openid', now(), now()),
                   (@ContactId, 'crm', @sourceId, 'source_record', now(), now() - interval '1 minute');
            insert into follow_up (follow_up_id, contact_id, content, channel, occurred_at)
            values (gen_random_uuid(), @ContactId, '客户说打 ' || @Mobile, 'phone', now());
            insert into lead (lead_id, lead_name, mobile_phone, email, channel_id, shard_id)
            values (@LeadId, '赵六', @LeadMobile, @LeadEmail, 'crm', @leadShard);
            """, new
        {
            p.AccountId, p.ContactId, p.LeadId, p.Mobile, p.Email, p.UnionId, p.ExternalUserId, p.OpenId, p.LeadMobile, p.LeadEmail,
            sourceId = "crm-" + p.ContactId.ToString("N"), accountShard = Shard.Of(p.AccountId), contactShard = Shard.Of(p.ContactId), leadShard = Shard.Of(p.LeadId),
        });
        return p;
    }
}
