using Cdp.Shared.Access;
using Cdp.Shared.Tagging;
using Dapper;
using Npgsql;

namespace Cdp.Shared.Customers;

/// <param name="CreditCodeVerified">
/// False when the credit code's check character does not verify (kept because early codes do that; never merged on
/// alone), true when it does, null without a code.
/// </param>
public sealed record AccountInfo(
    Guid AccountId, string Name, string? CreditCode, bool? CreditCodeVerified, string? City, string? Type, string Status,
    DateTime CreatedAt, DateTime UpdatedAt);

public sealed record AccountSummaryView(
    int TotalContacts, int TotalOpportunities, int WonOpportunities, int LostOpportunities, decimal TotalRevenue,
    decimal? WinRate, int HealthScore, DateTime? LastActivityAt, DateTime CalculatedAt);

public sealed record AccountContactView(
    Guid ContactId, string? Name, string? Title, string? MobilePhone, string? Email, string? Role, string? DecisionLevel,
    bool IsPrimaryContact, int? EngagementScore, DateTime? LastActivityAt)
{
    public AccountContactView Masked() => this with { MobilePhone = PiiMask.Phone(MobilePhone), Email = PiiMask.Email(Email) };
}

public sealed record OpportunityView(
    Guid OpportunityId, string Name, Guid? ContactId, decimal Amount, string Stage, bool IsClosed, bool IsWon, DateTime? ClosedAt, DateTime CreatedAt);

public sealed record AccountIdentityView(string ChannelId, string ChannelAccountId, bool IsVerified, DateTime FirstSeenAt, DateTime LastSeenAt);

/// <summary><c>GET /api/accounts/{id}</c>: the account and its summary (null until first computed).</summary>
public sealed record AccountDetails(AccountInfo Account, AccountSummaryView? Summary);

/// <summary>
/// <c>GET /api/accounts/{id}/360</c>. <see cref="Behaviour"/> is null and <see cref="Partial"/> true when ClickHouse did
/// not answer in time. (The response's <c>cached</c> flag belongs to the delivery: see <see cref="CachedView"/>.)
/// </summary>
public sealed record Account360(
    AccountInfo Account,
    AccountSummaryView? Summary,
    IReadOnlyList<AccountContactView> Contacts,
    IReadOnlyList<OpportunityView> Opportunities,
    IReadOnlyList<AccountIdentityView> ChannelIdentities,
    IReadOnlyList<ComputedTag> ComputedTags,
    BehaviourCounts? Behaviour,
    IReadOnlyList<TouchpointView> Touchpoints,
    bool Partial)
{
    /// <summary>As a caller without pii:reveal sees it: the account itself is a company's, its contacts are people.</summary>
    public Account360 Masked() => this with { Contacts = [.. Contacts.Select(c => c.Masked())] };
}

/// <summary>The Postgres part of an account's views, each one round trip of index-range reads.</summary>
public sealed class AccountReads(NpgsqlDataSource db)
{
    const string AccountSql = """
        select account_id as AccountId, account_name as Name, unified_social_credit_code as CreditCode,
               case when unified_social_credit_code is not null then credit_code_verified end as CreditCodeVerified, city as City,
               account_type as Type, account_status as Status, created_at as CreatedAt, updated_at as UpdatedAt
        from account where account_id = @id;
        select total_contacts as TotalContacts, total_opportunities as TotalOpportunities, won_opportunities as WonOpportunities,
               lost_opportunities as LostOpportunities, total_revenue as TotalRevenue, win_rate as WinRate,
               health_score as HealthScore, last_activity_at as LastActivityAt, calculated_at as CalculatedAt
        from account_summary where account_id = @id;
        """;

    // Members are the contacts related to the account or having it as their primary account (as the summary counts
    // them). Top contacts: the primary contact first, then the most engaged. Open opportunities before closed ones.
    // Touchpoints: the account's own and its members', each side an index range cut to the limit before the merge.
    static readonly string Account360Sql = AccountSql + """
        with members as (
            select contact_id from account_contact_relation where account_id = @id
            union
            select contact_id from contact where primary_account_id = @id)
        select c.contact_id as ContactId, c.contact_name as Name, c.title as Title, c.mobile_phone as MobilePhone, c.email as Email,
               r.role_in_account as Role, r.decision_level as DecisionLevel, coalesce(r.is_primary_contact, false) as IsPrimaryContact,
               s.engagement_score as EngagementScore, s.last_activity_at as LastActivityAt
        from members m
        join contact c on c.contact_id = m.contact_id
        left join account_contact_relation r on r.account_id = @id and r.contact_id = c.contact_id
        left join contact_summary s on s.contact_id = c.contact_id
        order by IsPrimaryContact desc, s.engagement_score desc nulls last, s.last_activity_at desc nulls last, c.contact_id
        limit @list;
        select opportunity_id as OpportunityId, opportunity_name as Name, contact_id as ContactId, amount as Amount, stage as Stage,
               is_closed as IsClosed, is_won as IsWon, closed_at as ClosedAt, created_at as CreatedAt
        from opportunity where account_id = @id
        order by is_closed, created_at desc, opportunity_id limit @list;
        select channel_id as ChannelId, channel_account_id as ChannelAccountId, is_verified as IsVerified,
               first_seen_at as FirstSeenAt, last_seen_at as LastSeenAt
        from account_channel_identity where account_id = @id order by last_seen_at desc, channel_id limit 50;
        """ + CustomerViewSql.ComputedTags(CustomerRef.AccountKind) + """
        with members as (
            select contact_id from account_contact_relation where account_id = @id
            union
            select contact_id from contact where primary_account_id = @id),
        latest as (
            (select touchpoint_id, touchpoint_time from touchpoint where account_id = @id
             order by touchpoint_time desc limit @touchpoints)
            union
            (select x.touchpoint_id, x.touchpoint_time from members m cross join lateral (
                select touchpoint_id, touchpoint_time from touchpoint where contact_id = m.contact_id
                order by touchpoint_time desc limit @touchpoints) x))
        """ + CustomerViewSql.Touchpoints("t.touchpoint_id in (select touchpoint_id from latest)");

    public async Task<AccountDetails?> DetailsAsync(Guid id, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var grid = await conn.QueryMultipleAsync(new CommandDefinition(AccountSql, new { id }, cancellationToken: ct));
        var account = await grid.ReadSingleOrDefaultAsync<AccountInfo>();
        return account is null ? null : new AccountDetails(account, await grid.ReadSingleOrDefaultAsync<AccountSummaryView>());
    }

    /// <summary>Everything of the 360 but the behaviour; null when the account does not exist.</summary>
    public async Task<Account360?> Read360Async(Guid id, int list, int touchpoints, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var grid = await conn.QueryMultipleAsync(new CommandDefinition(Account360Sql, new { id, list, touchpoints }, cancellationToken: ct));
        var account = await grid.ReadSingleOrDefaultAsync<AccountInfo>();
        if (account is null) return null;
        return new Account360(
            account,
            await grid.ReadSingleOrDefaultAsync<AccountSummaryView>(),
            (await grid.ReadAsync<AccountContactView>()).ToList(),
            (await grid.ReadAsync<OpportunityView>()).ToList(),
            (await grid.ReadAsync<AccountIdentityView>()).ToList(),
            await CustomerViewSql.ReadComputedTagsAsync(grid),
            Behaviour: null,
            await CustomerViewSql.ReadTouchpointsAsync(grid),
            Partial: false);
    }
}
