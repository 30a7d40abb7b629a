using Cdp.Shared.Cleansing;
using Cdp.Shared.Storage;
using Cdp.Tests.Support;
using Dapper;
using Npgsql;

namespace Cdp.Tests.Conversion;

/// <summary>Leads and accounts written straight into the tables for conversions to work on (any host's database).</summary>
static class ConversionData
{
    public const string City = "上海";

    /// <summary>A company name no other test uses, in <see cref="City"/>.</summary>
    public static string Company() => $"{City}{TestData.CompanyWord(6)}科技有限公司";

    /// <summary>A WeChat-form lead in <see cref="City"/>; with <paramref name="openId"/> also its WeChat identity.</summary>
    public static async Task<Guid> InsertLeadAsync(NpgsqlDataSource db, string mobile, string? email, string company, string? openId = null, string? title = "经理")
    {
        var leadId = Guid.CreateVersion7();
        await using var conn = await db.OpenConnectionAsync();
        await conn.ExecuteAsync("""
            insert into lead (lead_id, lead_name, company_name, mobile_phone, email, title, city, channel_id, shard_id)
            values (@leadId, '王小明', @company, @mobile, @email, @title, @City, 'wechat', @shard)
            """, new { leadId, company, mobile, email, title, City, shard = Shard.Of(leadId) });
        if (openId is not null)
        {
            await conn.ExecuteAsync("""
                insert into lead_channel_identity (lead_id, channel_id, channel_user_id, identity_type, captured_at, last_seen_at)
                values (@leadId, 'wechat', @openId, 'wechat_openid', now(), now())
                """, new { leadId, openId });
        }
        return leadId;
    }

    public static async Task<Guid> InsertAccountAsync(NpgsqlDataSource db, string company)
    {
        var accountId = Guid.CreateVersion7();
        var (full, shortName) = CompanyName.Normalize(company);
        await using var conn = await db.OpenConnectionAsync();
        await conn.ExecuteAsync("""
            insert into account (account_id, account_name, name_normalized, name_short, city, shard_id)
            values (@accountId, @company, @full, @shortName, @City, @shard)
            """, new { accountId, company, full, shortName, City, shard = Shard.Of(accountId) });
        return accountId;
    }
}
