using System.Text.Json;
using Cdp.Shared.Access;
using Cdp.Shared.Scoring;
using Cdp.Shared.Tagging;
using Dapper;
using Npgsql;
using static Cdp.Shared.Storage.DbTime;

namespace Cdp.Shared.Customers;

public sealed record LeadSummaryView(
    int TotalTouchpoints, int TotalEvents, int FormSubmissions, int DaysInPipeline, DateTimeOffset? LastActivityAt, DateTimeOffset CalculatedAt);

/// <summary>
/// <c>GET /api/leads/{id}</c>: the lead, its summary (null until first computed), score, grade and reasons, staff and
/// computed tags, and its behaviour counts (null and <see cref="Partial"/> true when ClickHouse did not answer).
/// </summary>
public sealed record LeadDetails(
    Guid LeadId,
    string? LeadName,
    string? CompanyName,
    string? MobilePhone,
    string? Email,
    string? Title,
    string? City,
    string? ChannelId,
    string? CampaignId,
    string? LeadSource,
    string LeadStatus,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? ConvertedAt,
    Guid? ConvertedContactId,
    Guid? ConvertedAccountId,
    Guid? ConvertedOpportunityId,
    int? Score,
    string? Grade,
    IReadOnlyList<ScoreReason> ScoreReasons,
    LeadSummaryView? Summary,
    IReadOnlyList<string> Tags,
    IReadOnlyList<ComputedTag> ComputedTags,
    BehaviourCounts? Behaviour = null,
    bool Partial = false,
    string? Phone = null,
    string? PhoneType = null)
{
    public LeadDetails Masked() => this with { MobilePhone = PiiMask.Phone(MobilePhone), Email = PiiMask.Email(Email), Phone = PiiMask.Phone(Phone) };
}

/// <summary>
/// Reads a lead's Postgres part for the API. Staff tags live on contacts (customer_tag), so a lead shows those of the contact it was
/// converted to; computed tags are the lead's own.
/// </summary>
public sealed class LeadReads(NpgsqlDataSource db)
{
    public async Task<LeadDetails?> GetAsync(Guid leadId, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var grid = await conn.QueryMultipleAsync(new CommandDefinition("""
            select lead_id as LeadId, lead_name as LeadName, company_name as CompanyName, mobile_phone as MobilePhone, email as Email,
                   title as Title, city as City, channel_id as ChannelId, campaign_id as CampaignId, lead_source as LeadSource,
                   lead_status as LeadStatus, created_at as CreatedAt, updated_at as UpdatedAt, converted_at as ConvertedAt,
                   converted_contact_id as ConvertedContactId, converted_account_id as ConvertedAccountId,
                   converted_opportunity_id as ConvertedOpportunityId, lead_score as Score, lead_grade as Grade,
                   score_reasons::text as ScoreReasons, phone as Phone, phone_type as PhoneType
            from lead where lead_id = @leadId;
            select total_touchpoints as TotalTouchpoints, total_events as TotalEvents, form_submissions as FormSubmissions,
                   days_in_pipeline as DaysInPipeline, last_activity_at as LastActivityAt, calculated_at as CalculatedAt
            from lead_summary where lead_id = @leadId;
            select t.tag from customer_tag t join lead l on l.converted_contact_id = t.contact_id
            where l.lead_id = @leadId order by t.tag;
            select tag as Tag, reason as Reason from computed_tag where entity_type = 'lead' and entity_id = @leadId order by tag;
            """, new { leadId }, cancellationToken: ct));
        var lead = await grid.ReadSingleOrDefaultAsync<LeadRow>();
        if (lead is null) return null;
        var summary = await grid.ReadSingleOrDefaultAsync<SummaryRow>();
        var tags = (await grid.ReadAsync<string>()).ToList();
        var computed = (await grid.ReadAsync<TagRow>()).Select(t => new ComputedTag(t.Tag, t.Reason)).ToList();
        var reasons = lead.ScoreReasons is null ? [] : JsonSerializer.Deserialize<List<ScoreReason>>(lead.ScoreReasons, CdpJson.Options) ?? [];

        return new LeadDetails(
            lead.LeadId, lead.LeadName, lead.CompanyName, lead.MobilePhone, lead.Email, lead.Title, lead.City, lead.ChannelId,
            lead.CampaignId, lead.LeadSource, lead.LeadStatus, Utc(lead.CreatedAt), Utc(lead.UpdatedAt), Utc(lead.ConvertedAt),
            lead.ConvertedContactId, lead.ConvertedAccountId, lead.ConvertedOpportunityId, lead.Score, lead.Grade, reasons,
            summary is null ? null : new LeadSummaryView(summary.TotalTouchpoints, summary.TotalEvents, summary.FormSubmissions,
                summary.DaysInPipeline, Utc(summary.LastActivityAt), Utc(summary.CalculatedAt)),
            tags, computed, Phone: lead.Phone, PhoneType: lead.PhoneType);
    }

    sealed class LeadRow
    {
        public Guid LeadId { get; set; }
        public string? LeadName { get; set; }
        public string? CompanyName { get; set; }
        public string? MobilePhone { get; set; }
        public string? Phone { get; set; }
        public string? PhoneType { get; set; }
        public string? Email { get; set; }
        public string? Title { get; set; }
        public string? City { get; set; }
        public string? ChannelId { get; set; }
        public string? CampaignId { get; set; }
        public string? LeadSource { get; set; }
        public string LeadStatus { get; set; } = "";
        public DateTime CreatedAt { get; set; }
        public DateTime UpdatedAt { get; set; }
        public DateTime? ConvertedAt { get; set; }
        public Guid? ConvertedContactId { get; set; }
        public Guid? ConvertedAccountId { get; set; }
        public Guid? ConvertedOpportunityId { get; set; }
        public int? Score { get; set; }
        public string? Grade { get; set; }
        public string? ScoreReasons { get; set; }
    }

    sealed class SummaryRow
    {
        public int TotalTouchpoints { get; set; }
        public int TotalEvents { get; set; }
        public int FormSubmissions { get; set; }
        public int DaysInPipeline { get; set; }
        public DateTime? LastActivityAt { get; set; }
        public DateTime CalculatedAt { get; set; }
    }

    sealed class TagRow
    {
        public string Tag { get; set; } = "";
        public string Reason { get; set; } = "";
    }
}
