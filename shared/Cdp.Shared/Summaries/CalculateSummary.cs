using System.Text.Json;
using Cdp.Shared.Messaging;
using Cdp.Shared.Scoring;
using Cdp.Shared.Tagging;
using Dapper;
using Npgsql;
using static Cdp.Shared.Storage.DbTime;

namespace Cdp.Shared.Summaries;

/// <summary>
/// Asks the summaries to recalculate one entity: topic summary-calculation, key "{entityType}:{id}",
/// payload <c>{"entityType","entityId","reason"}</c>.
/// </summary>
public sealed record SummaryRecalculation(string EntityType, Guid EntityId, string Reason)
{
    public const string Account = "account";
    public const string Contact = "contact";
    public const string Lead = "lead";

    public static IReadOnlyList<string> EntityTypes { get; } = [Account, Contact, Lead];

    public string Key => $"{EntityType}:{EntityId}";

    public static NpgsqlBatchCommand Publish(string entityType, Guid id, string reason) =>
        TopicPublisher.PublishCommand(Topics.SummaryCalculation, $"{entityType}:{id}", new SummaryRecalculation(entityType, id, reason));
}

/// <summary>
/// Computes one entity's summary as a full recompute from Postgres: every count is a fresh aggregate over the entity's
/// rows, never an increment, so the result is exact whatever was missed, duplicated or reordered before (and a
/// redelivered message or a second computation is harmless). Cheap because each aggregate is an index range of one
/// entity. The summary, the lead's score and the entity's computed tags are written in one transaction with
/// calculated_at; a contact's change queues its accounts' summaries in that transaction too.
/// </summary>
public sealed class SummaryCalculator(NpgsqlDataSource db, TimeProvider time)
{
    /// <summary>False when the entity does not exist (deleted since the trigger).</summary>
    public Task<bool> CalculateAsync(string entityType, Guid id, CancellationToken ct) => entityType switch
    {
        SummaryRecalculation.Account => AccountAsync(id, ct),
        SummaryRecalculation.Contact => ContactAsync(id, ct),
        SummaryRecalculation.Lead => LeadAsync(id, ct),
        _ => throw new ArgumentOutOfRangeException(nameof(entityType), entityType, "Unknown entity type."),
    };

    async Task<bool> AccountAsync(Guid id, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var row = await conn.QuerySingleOrDefaultAsync<AccountRow>(new CommandDefinition("""
            with contacts as (
                select contact_id from account_contact_relation where account_id = @id
                union
                select contact_id from contact where primary_account_id = @id),
            opp as (
                select count(*)::int as TotalOpportunities,
                       count(*) filter (where is_closed and is_won)::int as Won,
                       count(*) filter (where is_closed and not is_won)::int as Lost,
                       coalesce(sum(amount) filter (where is_closed and is_won), 0) as Revenue,
                       max(greatest(created_at, closed_at)) as LastOpportunity
                from opportunity where account_id = @id),
            tp as (
                select count(*) filter (where touchpoint_time >= @now - interval '30 days')::int as Last30,
                       count(*) filter (where touchpoint_type = @form and touchpoint_time >= @now - interval '7 days')::int as Forms7,
                       max(touchpoint_time) as LastTouchpoint
                from (select touchpoint_id, touchpoint_time, touchpoint_type from touchpoint where account_id = @id
                      union
                      select t.touchpoint_id, t.touchpoint_time, t.touchpoint_type from touchpoint t join contacts c using (contact_id)) t)
            select a.created_at as CreatedAt, (select count(*)::int from contacts) as TotalContacts, opp.*, tp.*
            from account a, opp, tp where a.account_id = @id
            """, new { id, now, form = SummaryRules.FormSubmission }, tx, cancellationToken: ct));
        if (row is null) return false;

        var last = Latest(row.LastTouchpoint, row.LastOpportunity);
        await conn.ExecuteAsync(new CommandDefinition("""
            insert into account_summary (account_id, total_contacts, total_opportunities, won_opportunities, lost_opportunities,
                                         total_revenue, win_rate, health_score, last_activity_at, calculated_at)
            values (@id, @TotalContacts, @TotalOpportunities, @Won, @Lost, @Revenue, @winRate, @health, @last, @now)
            on conflict (account_id) do update
            set total_contacts = excluded.total_contacts, total_opportunities = excluded.total_opportunities,
                won_opportunities = excluded.won_opportunities, lost_opportunities = excluded.lost_opportunities,
                total_revenue = excluded.total_revenue, win_rate = excluded.win_rate, health_score = excluded.health_score,
                last_activity_at = excluded.last_activity_at, calculated_at = excluded.calculated_at
            """, new
        {
            id, row.TotalContacts, row.TotalOpportunities, row.Won, row.Lost, row.Revenue,
            winRate = SummaryRules.WinRate(row.Won, row.Lost), health = SummaryRules.HealthScore(last, now), last, now,
        }, tx, cancellationToken: ct));
        await SaveTagsAsync(conn, tx, SummaryRecalculation.Account, id,
            TagRules.Evaluate(new TagFacts(row.Forms7, row.Last30, last, Utc(row.CreatedAt), now, row.Won)), now, ct);
        await tx.CommitAsync(ct);
        return true;
    }

    async Task<bool> ContactAsync(Guid id, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var row = await conn.QuerySingleOrDefaultAsync<ActivityRow>(new CommandDefinition(ActivitySql("contact"),
            new { id, now, form = SummaryRules.FormSubmission }, tx, cancellationToken: ct));
        if (row is null) return false;

        var last = Latest(row.LastTouchpoint);
        await conn.ExecuteAsync(new CommandDefinition("""
            insert into contact_summary (contact_id, total_touchpoints, email_opens, form_submissions, engagement_score,
                                         last_activity_at, calculated_at)
            values (@id, @Total, @EmailOpens, @Forms, @engagement, @last, @now)
            on conflict (contact_id) do update
            set total_touchpoints = excluded.total_touchpoints, email_opens = excluded.email_opens,
                form_submissions = excluded.form_submissions, engagement_score = excluded.engagement_score,
                last_activity_at = excluded.last_activity_at, calculated_at = excluded.calculated_at
            """, new
        {
            id, row.Total, row.EmailOpens, row.Forms, last, now,
            engagement = SummaryRules.EngagementScore(row.Last30, row.Last90, row.Forms90),
        }, tx, cancellationToken: ct));
        await SaveTagsAsync(conn, tx, SummaryRecalculation.Contact, id,
            TagRules.Evaluate(new TagFacts(row.Forms7, row.Last30, last, Utc(row.CreatedAt), now)), now, ct);

        // The account counts the contact and its touchpoints: let its summary follow.
        var accounts = await conn.QueryAsync<Guid>(new CommandDefinition("""
            select account_id from account_contact_relation where contact_id = @id
            union
            select primary_account_id from contact where contact_id = @id and primary_account_id is not null
            """, new { id }, tx, cancellationToken: ct));
        await TopicPublisher.PublishManyAsync(conn, tx, Topics.SummaryCalculation,
            accounts.Order().Select(a => ($"{SummaryRecalculation.Account}:{a}", new SummaryRecalculation(SummaryRecalculation.Account, a, "contact_changed"))), ct);
        await tx.CommitAsync(ct);
        return true;
    }

    async Task<bool> LeadAsync(Guid id, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var row = await conn.QuerySingleOrDefaultAsync<ActivityRow>(new CommandDefinition(ActivitySql("lead"),
            new { id, now, form = SummaryRules.FormSubmission }, tx, cancellationToken: ct));
        if (row is null) return false;
        var lead = await conn.QuerySingleAsync<LeadRow>(new CommandDefinition("""
            select lead_name as Name, company_name as Company, mobile_phone as Mobile, email as Email, title as Title,
                   city as City, channel_id as Channel, converted_at as ConvertedAt,
                   (select count(*)::int from ingestion_receipt where entity_id = @id and entity_type = 'lead') as Records,
                   (select max(last_seen_at) from lead_channel_identity where lead_id = @id) as LastSeen
            from lead where lead_id = @id
            """, new { id }, tx, cancellationToken: ct));

        var last = Latest(row.LastTouchpoint, lead.LastSeen);
        var createdAt = Utc(row.CreatedAt);
        await conn.ExecuteAsync(new CommandDefinition("""
            insert into lead_summary (lead_id, total_touchpoints, total_events, form_submissions, days_in_pipeline,
                                      last_activity_at, calculated_at)
            values (@id, @Total, @events, @Forms, @days, @last, @now)
            on conflict (lead_id) do update
            set total_touchpoints = excluded.total_touchpoints, total_events = excluded.total_events,
                form_submissions = excluded.form_submissions, days_in_pipeline = excluded.days_in_pipeline,
                last_activity_at = excluded.last_activity_at, calculated_at = excluded.calculated_at
            """, new
        {
            id, row.Total, row.Forms, last, now,
            events = row.Total + lead.Records,
            days = SummaryRules.DaysInPipeline(createdAt, lead.ConvertedAt is { } c ? Utc(c) : null, now),
        }, tx, cancellationToken: ct));

        var score = LeadScoring.Score(new LeadFacts(
            Has(lead.Name), Has(lead.Company), Has(lead.Mobile), Has(lead.Email), Has(lead.Title), Has(lead.City), lead.Channel,
            row.Last7, row.Last30, row.Forms7, row.Forms30, last, now));
        await conn.ExecuteAsync(new CommandDefinition("""
            update lead set lead_score = @Score, lead_grade = @Grade, score_reasons = @reasons::jsonb where lead_id = @id
            """, new { id, score.Score, score.Grade, reasons = JsonSerializer.Serialize(score.Reasons, CdpJson.Options) },
            tx, cancellationToken: ct));
        await SaveTagsAsync(conn, tx, SummaryRecalculation.Lead, id,
            TagRules.Evaluate(new TagFacts(row.Forms7, row.Last30, last, createdAt, now)), now, ct);
        await tx.CommitAsync(ct);
        return true;
    }

    /// <summary>The touchpoint aggregates of one contact or lead (left join: an entity without any still has a row).</summary>
    static string ActivitySql(string entity) => $"""
        select e.created_at as CreatedAt,
               count(t.touchpoint_id)::int as Total,
               count(*) filter (where t.touchpoint_type = 'email_open')::int as EmailOpens,
               count(*) filter (where t.touchpoint_type = @form)::int as Forms,
               count(*) filter (where t.touchpoint_time >= @now - interval '7 days')::int as Last7,
               count(*) filter (where t.touchpoint_time >= @now - interval '30 days')::int as Last30,
               count(*) filter (where t.touchpoint_time >= @now - interval '90 days')::int as Last90,
               count(*) filter (where t.touchpoint_type = @form and t.touchpoint_time >= @now - interval '7 days')::int as Forms7,
               count(*) filter (where t.touchpoint_type = @form and t.touchpoint_time >= @now - interval '30 days')::int as Forms30,
               count(*) filter (where t.touchpoint_type = @form and t.touchpoint_time >= @now - interval '90 days')::int as Forms90,
               max(t.touchpoint_time) as LastTouchpoint
        from {entity} e left join touchpoint t on t.{entity}_id = e.{entity}_id
        where e.{entity}_id = @id
        group by e.{entity}_id, e.created_at
        """;

    /// <summary>Replaces the entity's computed tags; staff tags (customer_tag) are another table and stay as they are.</summary>
    static async Task SaveTagsAsync(
        NpgsqlConnection conn, NpgsqlTransaction tx, string entityType, Guid id, IReadOnlyList<ComputedTag> tags, DateTimeOffset now,
        CancellationToken ct)
    {
        await conn.ExecuteAsync(new CommandDefinition("""
            delete from computed_tag where entity_type = @entityType and entity_id = @id and tag <> all(@tags);
            insert into computed_tag (entity_type, entity_id, tag, reason, computed_at)
            select @entityType, @id, t.tag, t.reason, @now from unnest(@tags, @reasons) as t(tag, reason)
            on conflict (entity_type, entity_id, tag) do update set reason = excluded.reason, computed_at = excluded.computed_at
            """, new { entityType, id, tags = tags.Select(t => t.Tag).ToArray(), reasons = tags.Select(t => t.Reason).ToArray(), now },
            tx, cancellationToken: ct));
    }

    static bool Has(string? value) => !string.IsNullOrWhiteSpace(value);

    static DateTimeOffset? Latest(params DateTime?[] times)
    {
        DateTime? max = null;
        foreach (var t in times)
            if (t is { } v && (max is null || v > max)) max = v;
        return max is { } m ? Utc(m) : null;
    }

    sealed class AccountRow
    {
        public DateTime CreatedAt { get; set; }
        public int TotalContacts { get; set; }
        public int TotalOpportunities { get; set; }
        public int Won { get; set; }
        public int Lost { get; set; }
        public decimal Revenue { get; set; }
        public DateTime? LastOpportunity { get; set; }
        public int Last30 { get; set; }
        public int Forms7 { get; set; }
        public DateTime? LastTouchpoint { get; set; }
    }

    sealed class ActivityRow
    {
        public DateTime CreatedAt { get; set; }
        public int Total { get; set; }
        public int EmailOpens { get; set; }
        public int Forms { get; set; }
        public int Last7 { get; set; }
        public int Last30 { get; set; }
        public int Last90 { get; set; }
        public int Forms7 { get; set; }
        public int Forms30 { get; set; }
        public int Forms90 { get; set; }
        public DateTime? LastTouchpoint { get; set; }
    }

    sealed class LeadRow
    {
        public string? Name { get; set; }
        public string? Company { get; set; }
        public string? Mobile { get; set; }
        public string? Email { get; set; }
        public string? Title { get; set; }
        public string? City { get; set; }
        public string? Channel { get; set; }
        public DateTime? ConvertedAt { get; set; }
        public int Records { get; set; }
        public DateTime? LastSeen { get; set; }
    }
}
