using Cdp.Shared.Cleansing;
using Cdp.Shared.Storage;
using Cdp.Tests.Support;
using Dapper;
using Npgsql;

namespace Cdp.Tests.Summaries;

/// <summary>Writes a customer's history straight into the tables, for the summaries to count.</summary>
public sealed class SummaryHistory(NpgsqlDataSource db)
{
    public async Task<Guid> AccountAsync(string company)
    {
        var id = Guid.CreateVersion7();
        var (full, shortName) = CompanyName.Normalize(company);
        await using var conn = await db.OpenConnectionAsync();
        await conn.ExecuteAsync("""
            insert into account (account_id, account_name, name_normalized, name_short, city, shard_id)
            values (@id, @company, @full, @shortName, '上海', @shard)
            """, new { id, company, full, shortName, shard = Shard.Of(id) });
        return id;
    }

    /// <summary>A contact linked to the account by a relation row, or (<paramref name="primaryOnly"/>) only by primary_account_id.</summary>
    public async Task<Guid> ContactAsync(Guid? accountId, bool primaryOnly = false)
    {
        var id = Guid.CreateVersion7();
        await using var conn = await db.OpenConnectionAsync();
        await conn.ExecuteAsync("""
            insert into contact (contact_id, contact_name, mobile_phone, primary_account_id, shard_id)
            values (@id, '王五', @mobile, @accountId, @shard)
            """, new { id, mobile = TestData.Mobile(), accountId, shard = Shard.Of(id) });
        if (accountId is not null && !primaryOnly)
            await conn.ExecuteAsync("insert into account_contact_relation (account_id, contact_id) values (@accountId, @id)", new { accountId, id });
        return id;
    }

    public async Task<Guid> LeadAsync(string? channel = "crm", bool complete = true, DateTimeOffset? createdAt = null)
    {
        var id = Guid.CreateVersion7();
        await using var conn = await db.OpenConnectionAsync();
        await conn.ExecuteAsync("""
            insert into lead (lead_id, lead_name, company_name, mobile_phone, email, title, city, channel_id, shard_id, created_at)
            values (@id, '赵六', @company, @mobile, @email, @title, @city, @channel, @shard, @createdAt)
            """, new
        {
            id, channel, shard = Shard.Of(id), createdAt = createdAt ?? DateTimeOffset.UtcNow,
            company = complete ? "星河科技有限公司" : null, mobile = complete ? TestData.Mobile() : null,
            email = complete ? TestData.Email() : null, title = complete ? "经理" : null, city = complete ? "上海" : null,
        });
        return id;
    }

    public async Task OpportunityAsync(Guid accountId, decimal amount, string stage, Guid? contactId = null)
    {
        var id = Guid.CreateVersion7();
        await using var conn = await db.OpenConnectionAsync();
        await conn.ExecuteAsync("""
            insert into opportunity (opportunity_id, account_id, contact_id, opportunity_name, amount, stage, is_closed, is_won, closed_at)
            values (@id, @accountId, @contactId, '项目', @amount, @stage, @closed, @won, case when @closed then now() end)
            """, new { id, accountId, contactId, amount, stage, closed = stage.StartsWith("closed_", StringComparison.Ordinal), won = stage == "closed_won" });
    }

    public async Task TouchpointAsync(DateTimeOffset at, string type = "page_view", Guid? contactId = null, Guid? leadId = null, Guid? accountId = null)
    {
        await using var conn = await db.OpenConnectionAsync();
        await conn.ExecuteAsync("""
            insert into touchpoint (touchpoint_id, contact_id, lead_id, account_id, channel_id, touchpoint_time, touchpoint_type)
            values (@id, @contactId, @leadId, @accountId, 'sdk', @at, @type)
            """, new { id = Guid.CreateVersion7(), contactId, leadId, accountId, at, type });
    }
}
