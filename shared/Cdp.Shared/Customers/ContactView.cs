using Cdp.Shared.Access;
using Cdp.Shared.Tagging;
using Dapper;
using Npgsql;

namespace Cdp.Shared.Customers;

public sealed record ContactInfo(
    Guid ContactId, string? Name, string? MobilePhone, string? Email, string? Title, string? City, string? Phone,
    string? WeChatId, string? WeComExternalUserId, Guid? PrimaryAccountId, DateTime CreatedAt, DateTime UpdatedAt,
    string? PhoneType = null)
{
    public ContactInfo Masked() => this with
    {
        MobilePhone = PiiMask.Phone(MobilePhone), Email = PiiMask.Email(Email), Phone = PiiMask.Phone(Phone),
        WeChatId = PiiMask.ChannelUserId(WeChatId), WeComExternalUserId = PiiMask.ChannelUserId(WeComExternalUserId),
    };
}

public sealed record ContactSummaryView(
    int TotalTouchpoints, int EmailOpens, int FormSubmissions, int EngagementScore, DateTime? LastActivityAt, DateTime CalculatedAt);

public sealed record ContactAccountView(Guid AccountId, string Name, string? City, string? Role, string? DecisionLevel, bool IsPrimaryContact, bool IsPrimaryAccount);

public sealed record ContactIdentityView(string ChannelId, string IdentityType, string ChannelUserId, bool IsVerified, DateTime FirstSeenAt, DateTime LastSeenAt)
{
    public ContactIdentityView Masked() => this with { ChannelUserId = PiiMask.Identity(IdentityType, ChannelUserId) };
}

public sealed record FollowUpView(Guid FollowUpId, string Content, string? Channel, DateTime OccurredAt);

/// <summary>A lead that was converted into this contact.</summary>
public sealed record ConvertedLeadView(Guid LeadId, string? Name, string? ChannelId, DateTime? ConvertedAt);

/// <summary><c>GET /api/contacts/{id}/360</c>; <see cref="Partial"/> as for accounts.</summary>
public sealed record Contact360(
    ContactInfo Contact,
    ContactSummaryView? Summary,
    IReadOnlyList<ContactAccountView> Accounts,
    IReadOnlyList<ContactIdentityView> ChannelIdentities,
    IReadOnlyList<string> Tags,
    IReadOnlyList<ComputedTag> ComputedTags,
    IReadOnlyList<FollowUpView> FollowUps,
    IReadOnlyList<ConvertedLeadView> Leads,
    BehaviourCounts? Behaviour,
    IReadOnlyList<TouchpointView> Touchpoints,
    bool Partial)
{
    /// <summary>
    /// As a caller without pii:reveal sees it. Follow-ups are free text a salesperson typed, so a mobile or an address
    /// written into one is masked too. (Touchpoint details are scrubbed when the events are accepted.)
    /// </summary>
    public Contact360 Masked() => this with
    {
        Contact = Contact.Masked(),
        ChannelIdentities = [.. ChannelIdentities.Select(i => i.Masked())],
        FollowUps = [.. FollowUps.Select(f => f with { Content = PiiMask.Text(f.Content)! })],
    };
}

/// <summary>The Postgres part of a contact's 360: one round trip of index-range reads.</summary>
public sealed class ContactReads(NpgsqlDataSource db)
{
    static readonly string Contact360Sql = """
        select contact_id as ContactId, contact_name as Name, mobile_phone as MobilePhone, email as Email, title as Title,
               city as City, phone as Phone, wechat_id as WeChatId, wecom_external_user_id as WeComExternalUserId,
               primary_account_id as PrimaryAccountId, created_at as CreatedAt, updated_at as UpdatedAt,
               phone_type as PhoneType
        from contact where contact_id = @id;
        select total_touchpoints as TotalTouchpoints, email_opens as EmailOpens, form_submissions as FormSubmissions,
               engagement_score as EngagementScore, last_activity_at as LastActivityAt, calculated_at as CalculatedAt
        from contact_summary where contact_id = @id;
        with linked as (
            select account_id from account_contact_relation where contact_id = @id
            union
            select primary_account_id from contact where contact_id = @id and primary_account_id is not null)
        select a.account_id as AccountId, a.account_name as Name, a.city as City, r.role_in_account as Role,
               r.decision_level as DecisionLevel, coalesce(r.is_primary_contact, false) as IsPrimaryContact,
               coalesce(a.account_id = (select primary_account_id from contact where contact_id = @id), false) as IsPrimaryAccount
        from linked l
        join account a on a.account_id = l.account_id
        left join account_contact_relation r on r.account_id = a.account_id and r.contact_id = @id
        order by IsPrimaryAccount desc, a.account_name, a.account_id limit @list;
        select channel_id as ChannelId, identity_type as IdentityType, channel_user_id as ChannelUserId, is_verified as IsVerified,
               first_seen_at as FirstSeenAt, last_seen_at as LastSeenAt
        from contact_channel_identity where contact_id = @id order by last_seen_at desc, channel_id, identity_type limit 50;
        select tag from customer_tag where contact_id = @id order by tag;
        """ + CustomerViewSql.ComputedTags(CustomerRef.ContactKind) + """
        select follow_up_id as FollowUpId, content as Content, channel as Channel, occurred_at as OccurredAt
        from follow_up where contact_id = @id order by occurred_at desc, follow_up_id limit @list;
        select lead_id as LeadId, lead_name as Name, channel_id as ChannelId, converted_at as ConvertedAt
        from lead where converted_contact_id = @id order by converted_at desc nulls last, lead_id limit @list;
        """ + CustomerViewSql.Touchpoints("t.contact_id = @id");

    /// <summary>Everything of the 360 but the behaviour; null when the contact does not exist.</summary>
    /// <summary>
    /// The contact with WeCom external userid <paramref name="externalUserId"/>; when <paramref name="follower"/> is set,
    /// only if that staff member follows it in WeCom (one index probe each: contact_wecom_uk, the owner key).
    /// </summary>
    public async Task<Guid?> IdByExternalUserAsync(string externalUserId, string? follower, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        return await conn.QuerySingleOrDefaultAsync<Guid?>(new CommandDefinition("""
            select c.contact_id from contact c
             where c.wecom_external_user_id = @externalUserId
               and (@follower::text is null or exists (
                    select 1 from customer_owner o
                     where o.entity_type = 'contact' and o.entity_id = c.contact_id and o.staff_user_id = @follower
                       and o.source = 'wecom_follow' and o.source_ref = @externalUserId))
            """, new { externalUserId, follower }, cancellationToken: ct));
    }

    public async Task<Contact360?> Read360Async(Guid id, int list, int touchpoints, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var grid = await conn.QueryMultipleAsync(new CommandDefinition(Contact360Sql, new { id, list, touchpoints }, cancellationToken: ct));
        var contact = await grid.ReadSingleOrDefaultAsync<ContactInfo>();
        if (contact is null) return null;
        return new Contact360(
            contact,
            await grid.ReadSingleOrDefaultAsync<ContactSummaryView>(),
            (await grid.ReadAsync<ContactAccountView>()).ToList(),
            (await grid.ReadAsync<ContactIdentityView>()).ToList(),
            (await grid.ReadAsync<string>()).ToList(),
            await CustomerViewSql.ReadComputedTagsAsync(grid),
            (await grid.ReadAsync<FollowUpView>()).ToList(),
            (await grid.ReadAsync<ConvertedLeadView>()).ToList(),
            Behaviour: null,
            await CustomerViewSql.ReadTouchpointsAsync(grid),
            Partial: false);
    }
}
