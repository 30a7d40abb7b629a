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
}
