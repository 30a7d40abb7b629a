using Cdp.Tests.Support;
using static Cdp.Tests.Identity.IdentityTestBed;

namespace Cdp.Tests.Identity;

public class LeadResolutionTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    private readonly IdentityTestBed bed = new(db);

    [Fact]
    public async Task NewLeadIsCreatedWithItsChannelAndCampaign()
    {
        var outcome = await bed.ResolveProcessed(Lead(TestData.Mobile()) with
        {
            Company = "某某科技", CampaignId = "cmp-2025", LeadSource = "form",
        });

        Assert.True(outcome.Created);
        Assert.Equal("lead", outcome.EntityType);
        var row = await bed.Row<(string, string, string, string, string)>(
            "select channel_id, campaign_id, lead_source, lead_status, company_name from lead where lead_id = @EntityId", outcome);
        Assert.Equal(("wechat", "cmp-2025", "form", "new", "某某科技"), row);
        Assert.Equal(0L, await bed.Scalar<long>("select count(*) from account where account_name = '某某科技'"));
    }

    [Fact]
    public async Task MobileMatches()
    {
        var mobile = TestData.Mobile();
        var existing = await bed.ResolveProcessed(Lead(mobile));

        var outcome = await bed.ResolveProcessed(Lead(mobile, TestData.Email()) with { Channel = "crm" });

        Assert.Equal(existing.EntityId, outcome.EntityId);
        Assert.False(outcome.Created);
    }

    [Fact]
    public async Task EmailMatches()
    {
        var email = TestData.Email();
        var existing = await bed.ResolveProcessed(Lead(email: email));

        var outcome = await bed.ResolveProcessed(Lead(TestData.Mobile(), email) with { Title = "CTO" });

        Assert.Equal(existing.EntityId, outcome.EntityId);
        Assert.Equal("CTO", await bed.Scalar<string>("select title from lead where lead_id = @EntityId", existing));
    }

    [Fact]
    public async Task UnionIdMatchesAcrossOpenIds()
    {
        var unionId = TestData.Id("u");
        var existing = await bed.ResolveProcessed(Lead() with { OpenId = TestData.Id("o"), UnionId = unionId });

        // The same person through another official account: a new openId, the same unionId.
        var outcome = await bed.ResolveProcessed(Lead() with { OpenId = TestData.Id("o"), UnionId = unionId });

        Assert.Equal(existing.EntityId, outcome.EntityId);
        Assert.Equal(2L, await bed.Scalar<long>(
            "select count(*) from lead_channel_identity where lead_id = @EntityId and identity_type = 'wechat_openid'", existing));
    }

    [Fact]
    public async Task OpenIdMatches()
    {
        var openId = TestData.Id("o");
        var existing = await bed.ResolveProcessed(Lead() with { OpenId = openId });

        var outcome = await bed.ResolveProcessed(Lead(TestData.Mobile()) with { OpenId = openId });

        Assert.Equal(existing.EntityId, outcome.EntityId);
    }

    [Fact]
    public async Task UtmOfTheFirstTouchIsRecorded()
    {
        var record = Lead(TestData.Mobile()) with { OpenId = TestData.Id("o"), UtmSource = "baidu", UtmCampaign = "spring" };
        var created = await bed.ResolveProcessed(record);
        await bed.ResolveProcessed(record with { UtmSource = "wechat", UtmCampaign = "summer", ModifiedAt = T0.AddDays(3) });

        var identities = await bed.Rows<(string Type, string Source, string Campaign, DateTime Captured, DateTime Last)>("""
            select identity_type, utm_source, utm_campaign, captured_at, last_seen_at from lead_channel_identity
            where lead_id = @EntityId order by identity_type
            """, created);

        Assert.Equal(["source_record", "wechat_openid"], identities.Select(i => i.Type));
        Assert.All(identities, i => Assert.Equal(("baidu", "spring"), (i.Source, i.Campaign)));
        Assert.All(identities, i => Assert.Equal(T0.UtcDateTime, i.Captured));
        Assert.All(identities, i => Assert.Equal(T0.AddDays(3).UtcDateTime, i.Last));
    }

    [Fact]
    public async Task RedeliveryIsANoOp()
    {
        var record = Lead(TestData.Mobile());
        var (ingestionId, first) = await bed.Resolve(record);

        var again = await bed.Resolver.ResolveAsync(ingestionId, Clean(record), null, CancellationToken.None);

        Assert.Equal(first, again);
        Assert.Equal(1L, await bed.Scalar<long>("select count(*) from lead where mobile_phone = @Mobile", record));
    }

    // Issue 10: a mobile typed into a WeChat form by a visitor could overwrite the name, email and company of a CRM lead.
    [Fact]
    public async Task A_WeChat_form_fills_empty_fields_of_a_CRM_lead_but_never_overwrites_them()
    {
        var mobile = TestData.Mobile();
        var crmEmail = TestData.Email();
        var crm = Lead(mobile, crmEmail) with { Channel = "crm", Name = "王建国", Company = "星河科技有限公司", Title = "采购经理" };
        var lead = await bed.ResolveProcessed(crm);

        // A later form with the same mobile and other name, email, company; and a city the lead lacked.
        var form = Lead(mobile, TestData.Email()) with
        {
            Name = "王先生", Company = "星河", Title = null, City = "杭州", ModifiedAt = T0.AddDays(1),
        };
        Assert.Equal(lead.EntityId, (await bed.ResolveProcessed(form)).EntityId);

        var row = await bed.Row<(string, string, string, string, string)>(
            "select lead_name, email, company_name, title, city from lead where lead_id = @EntityId", lead);
        Assert.Equal(("王建国", crmEmail, "星河科技有限公司", "采购经理", "杭州"), row);
        var sources = await bed.Scalar<string>("select field_sources::text from lead where lead_id = @EntityId", lead);
        Assert.Contains("\"city\": \"wechat\"", sources);
        Assert.Contains("\"email\": \"crm\"", sources);
    }

    [Fact]
    public async Task A_form_fills_a_missing_email_which_a_later_CRM_update_still_overwrites_and_the_next_form_cannot()
    {
        var mobile = TestData.Mobile();
        var lead = await bed.ResolveProcessed(Lead(mobile) with { Channel = "crm", Name = "赵敏" });

        var typed = TestData.Email();
        await bed.ResolveProcessed(Lead(mobile, typed) with { ModifiedAt = T0.AddDays(1) });
        Assert.Equal(typed, await bed.Scalar<string>("select email from lead where lead_id = @EntityId", lead));

        // Another visitor-typed value replaces a visitor-typed one (newest wins among forms).
        var retyped = TestData.Email();
        await bed.ResolveProcessed(Lead(mobile, retyped) with { ModifiedAt = T0.AddDays(2) });
        Assert.Equal(retyped, await bed.Scalar<string>("select email from lead where lead_id = @EntityId", lead));

        var fromCrm = TestData.Email();
        await bed.ResolveProcessed(Lead(mobile, fromCrm) with { Channel = "crm", Name = "赵敏", ModifiedAt = T0.AddDays(3) });
        Assert.Equal(fromCrm, await bed.Scalar<string>("select email from lead where lead_id = @EntityId", lead));

        await bed.ResolveProcessed(Lead(mobile, TestData.Email()) with { ModifiedAt = T0.AddDays(4) });
        Assert.Equal(fromCrm, await bed.Scalar<string>("select email from lead where lead_id = @EntityId", lead));
    }

    [Fact]
    public async Task A_business_or_data_only_number_in_the_mobile_field_is_kept_typed_but_merges_nobody()
    {
        var company = TestData.CompanyWord() + "有限公司";
        var first = await bed.ResolveProcessed(Lead("400-812-3456") with { Company = company });
        var second = await bed.ResolveProcessed(Lead("400-812-3456") with { Company = company, Name = "周芷若" });
        Assert.NotEqual(first.EntityId, second.EntityId);

        var row = await bed.Row<(string?, string, string)>("select mobile_phone, phone, phone_type from lead where lead_id = @EntityId", first);
        Assert.Equal((null, "+864008123456", "shared_cost"), row);

        var dataOnly = await bed.ResolveProcessed(Lead("14012345678"));
        var again = await bed.ResolveProcessed(Lead("14012345678"));
        Assert.NotEqual(dataOnly.EntityId, again.EntityId);
        Assert.Equal("data_only", await bed.Scalar<string>("select phone_type from lead where lead_id = @EntityId", dataOnly));
    }

    [Fact]
    public async Task A_foreign_mobile_is_a_key_in_E164()
    {
        // Libphonenumber's example Hong Kong mobile (+852 5123 4567) with other last digits: the block stays allocated.
        var hongKong = "+852 5123 " + Random.Shared.Next(1000, 9999);
        var lead = await bed.ResolveProcessed(Lead(hongKong));

        var again = await bed.ResolveProcessed(Lead("00" + hongKong[1..].Replace(" ", "")) with { Channel = "crm" });

        Assert.Equal(lead.EntityId, again.EntityId);
        Assert.Equal(hongKong.Replace(" ", ""), await bed.Scalar<string>("select mobile_phone from lead where lead_id = @EntityId", lead));
    }
}
