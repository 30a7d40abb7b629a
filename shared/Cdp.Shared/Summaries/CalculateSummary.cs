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

/// <summary>One entity whose summary is computed.</summary>
public sealed record SummaryEntity(string EntityType, Guid Id);

/// <summary>
/// Computes entities' summaries as a full recompute from Postgres: every count is a fresh aggregate over the entity's
/// rows, never an increment, so the result is exact whatever was missed, duplicated or reordered before (and a
/// redelivered message or a second computation is harmless). A round of entities is computed set-based in one
/// transaction (one statement per aggregate for all of them, each still an index range of one entity), and one entity
/// alone is the same code with a list of one. Summaries, lead scores and computed tags are written with calculated_at;
/// changed contacts queue their accounts' summaries in that transaction too.
/// The summary rows have no foreign key (migration 0022: its FOR KEY SHARE waited for identity resolution's FOR UPDATE
/// on the entity): an entity's delete removes its summary by trigger, and the two meet on a per-entity advisory lock
/// that the computation holds shared from before its reads to its commit.
/// </summary>
public sealed class SummaryCalculator(NpgsqlDataSource db, TimeProvider time)
{
    /// <summary>The advisory lock class the entity delete trigger takes exclusively (migration 0022).</summary>
    const int DeleteLockClass = 2201;

    /// <summary>False when the entity does not exist (deleted since the trigger).</summary>
    public async Task<bool> CalculateAsync(string entityType, Guid id, CancellationToken ct) =>
        (await CalculateManyAsync([new SummaryEntity(entityType, id)], ct)).Count == 1;

    /// <summary>Computes every entity given in one transaction; returns those that exist (the others were deleted since the trigger).</summary>
    public async Task<IReadOnlySet<SummaryEntity>> CalculateManyAsync(IReadOnlyCollection<SummaryEntity> entities, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(entities);
        foreach (var e in entities)
            if (!SummaryRecalculation.EntityTypes.Contains(e.EntityType))
                throw new ArgumentOutOfRangeException(nameof(entities), e.EntityType, "Unknown entity type.");
        var accounts = Ids(entities, SummaryRecalculation.Account);
        var contacts = Ids(entities, SummaryRecalculation.Contact);
        var leads = Ids(entities, SummaryRecalculation.Lead);
        var now = time.GetUtcNow();

        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        // One round trip: the shared delete locks first (each later statement reads after them), then every aggregate.
        var p = new { accounts, contacts, leads, all = entities.Select(e => e.Id).Distinct().ToArray(), now, form = SummaryRules.FormSubmission, lockClass = DeleteLockClass };
        HashSet<Guid> deleting;
        List<AccountRow> accountRows;
        List<ActivityRow> contactRows, leadRows;
        Dictionary<Guid, LeadRow> leadFields;
        List<ContactAccount> contactAccounts;
        await using (var reads = await conn.QueryMultipleAsync(new CommandDefinition(
            $"""
            select x.id from unnest(@all) as x(id) where not pg_try_advisory_xact_lock_shared(@lockClass, hashtext(x.id::text));
            {AccountSql};
            {ActivitySql("contact")};
            {ActivitySql("lead")};
            {LeadSql};
            select contact_id as Contact, account_id as Account from account_contact_relation where contact_id = any(@contacts)
            union
            select contact_id, primary_account_id from contact where contact_id = any(@contacts) and primary_account_id is not null
            """, p, tx, cancellationToken: ct)))
        {
            deleting = [.. await reads.ReadAsync<Guid>()];
            accountRows = [.. (await reads.ReadAsync<AccountRow>()).Where(r => !deleting.Contains(r.Id))];
            contactRows = [.. (await reads.ReadAsync<ActivityRow>()).Where(r => !deleting.Contains(r.Id))];
            leadRows = [.. (await reads.ReadAsync<ActivityRow>()).Where(r => !deleting.Contains(r.Id))];
            leadFields = (await reads.ReadAsync<LeadRow>()).ToDictionary(r => r.Id);
            contactAccounts = [.. await reads.ReadAsync<ContactAccount>()];
        }

        var done = new HashSet<SummaryEntity>();
        var tags = new List<(string Type, Guid Id, IReadOnlyList<ComputedTag> Tags)>();
        var accountSummaries = new List<object?[]>();
        foreach (var row in accountRows)
        {
            var last = Latest(row.LastTouchpoint, row.LastOpportunity);
            accountSummaries.Add([row.Id, row.TotalContacts, row.TotalOpportunities, row.Won, row.Lost, row.Revenue,
                SummaryRules.WinRate(row.Won, row.Lost), SummaryRules.HealthScore(last, now), last]);
            tags.Add((SummaryRecalculation.Account, row.Id, TagRules.Evaluate(new TagFacts(row.Forms7, row.Last30, last, Utc(row.CreatedAt), now, row.Won))));
            done.Add(new(SummaryRecalculation.Account, row.Id));
        }

        var contactSummaries = new List<object?[]>();
        foreach (var row in contactRows)
        {
            var last = Latest(row.LastTouchpoint);
            contactSummaries.Add([row.Id, row.Total, row.EmailOpens, row.Forms, SummaryRules.EngagementScore(row.Last30, row.Last90, row.Forms90), last]);
            tags.Add((SummaryRecalculation.Contact, row.Id, TagRules.Evaluate(new TagFacts(row.Forms7, row.Last30, last, Utc(row.CreatedAt), now))));
            done.Add(new(SummaryRecalculation.Contact, row.Id));
        }

        var leadSummaries = new List<object?[]>();
        var scores = new List<(Guid Id, LeadScore Score)>();
        foreach (var row in leadRows)
        {
            var lead = leadFields[row.Id];
            var last = Latest(row.LastTouchpoint, lead.LastSeen);
            var createdAt = Utc(row.CreatedAt);
            leadSummaries.Add([row.Id, row.Total, row.Total + lead.Records, row.Forms,
                SummaryRules.DaysInPipeline(createdAt, lead.ConvertedAt is { } c ? Utc(c) : null, now), last]);
            scores.Add((row.Id, LeadScoring.Score(new LeadFacts(
                Has(lead.Name), Has(lead.Company), Has(lead.Mobile), Has(lead.Email), Has(lead.Title), Has(lead.City), lead.Channel,
                row.Last7, row.Last30, row.Forms7, row.Forms30, last, now))));
            tags.Add((SummaryRecalculation.Lead, row.Id, TagRules.Evaluate(new TagFacts(row.Forms7, row.Last30, last, createdAt, now))));
            done.Add(new(SummaryRecalculation.Lead, row.Id));
        }

        if (done.Count > 0)
        {
            await conn.ExecuteAsync(new CommandDefinition(WriteSql, new
            {
                now,
                aId = Column<Guid>(accountSummaries, 0), aContacts = Column<int>(accountSummaries, 1), aOpps = Column<int>(accountSummaries, 2),
                aWon = Column<int>(accountSummaries, 3), aLost = Column<int>(accountSummaries, 4), aRevenue = Column<decimal>(accountSummaries, 5),
                aWinRate = Column<decimal?>(accountSummaries, 6), aHealth = Column<int>(accountSummaries, 7), aLast = Column<DateTimeOffset?>(accountSummaries, 8),
                cId = Column<Guid>(contactSummaries, 0), cTotal = Column<int>(contactSummaries, 1), cOpens = Column<int>(contactSummaries, 2),
                cForms = Column<int>(contactSummaries, 3), cEngagement = Column<int>(contactSummaries, 4), cLast = Column<DateTimeOffset?>(contactSummaries, 5),
                lId = Column<Guid>(leadSummaries, 0), lTotal = Column<int>(leadSummaries, 1), lEvents = Column<int>(leadSummaries, 2),
                lForms = Column<int>(leadSummaries, 3), lDays = Column<int>(leadSummaries, 4), lLast = Column<DateTimeOffset?>(leadSummaries, 5),
                tType = tags.Select(t => t.Type).ToArray(), tId = tags.Select(t => t.Id).ToArray(),
                ntType = tags.SelectMany(t => t.Tags.Select(_ => t.Type)).ToArray(), ntId = tags.SelectMany(t => t.Tags.Select(_ => t.Id)).ToArray(),
                ntTag = tags.SelectMany(t => t.Tags.Select(g => g.Tag)).ToArray(), ntReason = tags.SelectMany(t => t.Tags.Select(g => g.Reason)).ToArray(),
            }, tx, cancellationToken: ct));
        }

        if (scores.Count > 0)
        {
            await conn.ExecuteAsync(new CommandDefinition(ScoreSql, new
            {
                topic = Topics.SummaryCalculation,
                id = scores.Select(s => s.Id).ToArray(), score = scores.Select(s => s.Score.Score).ToArray(), grade = scores.Select(s => s.Score.Grade).ToArray(),
                reasons = scores.Select(s => JsonSerializer.Serialize(s.Score.Reasons, CdpJson.Options)).ToArray(),
                key = scores.Select(s => $"{SummaryRecalculation.Lead}:{s.Id}").ToArray(),
                again = scores.Select(s => JsonSerializer.Serialize(new SummaryRecalculation(SummaryRecalculation.Lead, s.Id, "lead_locked"), CdpJson.Options)).ToArray(),
            }, tx, cancellationToken: ct));
        }

        // The account counts the contact and its touchpoints: let its summary follow.
        var computedContacts = contactRows.Select(r => r.Id).ToHashSet();
        await TopicPublisher.PublishManyAsync(conn, tx, Topics.SummaryCalculation,
            contactAccounts.Where(x => computedContacts.Contains(x.Contact)).Select(x => x.Account).Distinct().Order()
                .Select(a => ($"{SummaryRecalculation.Account}:{a}", new SummaryRecalculation(SummaryRecalculation.Account, a, "contact_changed"))), ct);
        await tx.CommitAsync(ct);
        return done;
    }

    /// <summary>
    /// The lead scores, on the lead row itself. A lead whose row a resolution holds (FOR UPDATE, for its whole batch) is
    /// not waited for: its computation is queued again a second later (the key's next message, so it coalesces with
    /// what the resolution queues), and an unchanged score is not written at all.
    /// </summary>
    const string ScoreSql = """
        with s as (select * from unnest(@id, @score, @grade, @reasons, @key, @again) as s(id, score, grade, reasons, key, again)),
        locked as (select lead_id from lead where lead_id = any(@id) for no key update skip locked),
        scored as (
            update lead l set lead_score = s.score, lead_grade = s.grade, score_reasons = s.reasons::jsonb
            from s join locked k on k.lead_id = s.id
            where l.lead_id = s.id and (l.lead_score, l.lead_grade, l.score_reasons) is distinct from (s.score, s.grade, s.reasons::jsonb))
        insert into topic_message (topic, message_key, payload, available_at)
        select @topic, s.key, s.again::json, now() + interval '1 second' from s where s.id not in (select lead_id from locked)
        """;

    static Guid[] Ids(IEnumerable<SummaryEntity> entities, string type) =>
        [.. entities.Where(e => e.EntityType == type).Select(e => e.Id).Distinct()];

    static T[] Column<T>(List<object?[]> rows, int column) => [.. rows.Select(r => (T)r[column]!)];

    /// <summary>An account's contacts (relations and primary_account_id), opportunities and touchpoints (its own and its contacts').</summary>
    const string AccountSql = """
        select a.account_id as Id, a.created_at as CreatedAt, cardinality(k.contacts) as TotalContacts,
               opp.TotalOpportunities, opp.Won, opp.Lost, opp.Revenue, opp.LastOpportunity, tp.Last30, tp.Forms7, tp.LastTouchpoint
        from account a
        cross join lateral (
            select array(select contact_id from account_contact_relation where account_id = a.account_id
                         union
                         select contact_id from contact where primary_account_id = a.account_id) as contacts) k
        cross join lateral (
            select count(*)::int as TotalOpportunities,
                   count(*) filter (where is_closed and is_won)::int as Won,
                   count(*) filter (where is_closed and not is_won)::int as Lost,
                   coalesce(sum(amount) filter (where is_closed and is_won), 0) as Revenue,
                   max(greatest(created_at, closed_at)) as LastOpportunity
            from opportunity where account_id = a.account_id) opp
        cross join lateral (
            select count(*) filter (where touchpoint_time >= @now - interval '30 days')::int as Last30,
                   count(*) filter (where touchpoint_type = @form and touchpoint_time >= @now - interval '7 days')::int as Forms7,
                   max(touchpoint_time) as LastTouchpoint
            from (select touchpoint_id, touchpoint_time, touchpoint_type from touchpoint where account_id = a.account_id
                  union
                  select touchpoint_id, touchpoint_time, touchpoint_type from touchpoint where contact_id = any(k.contacts)) t) tp
        where a.account_id = any(@accounts)
        """;

    /// <summary>The touchpoint aggregates of contacts or leads (left join: an entity without any still has a row).</summary>
    static string ActivitySql(string entity) => $"""
        select e.{entity}_id as Id, e.created_at as CreatedAt,
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
        where e.{entity}_id = any(@{entity}s)
        group by e.{entity}_id, e.created_at
        """;

    const string LeadSql = """
        select l.lead_id as Id, l.lead_name as Name, l.company_name as Company, l.mobile_phone as Mobile, l.email as Email, l.title as Title,
               l.city as City, l.channel_id as Channel, l.converted_at as ConvertedAt,
               (select count(*)::int from ingestion_receipt where entity_id = l.lead_id and entity_type = 'lead') as Records,
               (select max(last_seen_at) from lead_channel_identity where lead_id = l.lead_id) as LastSeen
        from lead l where l.lead_id = any(@leads)
        """;

    /// <summary>The summaries upserted with calculated_at, and the computed tags replaced (staff tags, customer_tag, stay as they are).</summary>
    const string WriteSql = """
        insert into account_summary (account_id, total_contacts, total_opportunities, won_opportunities, lost_opportunities,
                                     total_revenue, win_rate, health_score, last_activity_at, calculated_at)
        select s.*, @now from unnest(@aId, @aContacts, @aOpps, @aWon, @aLost, @aRevenue, @aWinRate, @aHealth, @aLast) as s
        on conflict (account_id) do update
        set total_contacts = excluded.total_contacts, total_opportunities = excluded.total_opportunities,
            won_opportunities = excluded.won_opportunities, lost_opportunities = excluded.lost_opportunities,
            total_revenue = excluded.total_revenue, win_rate = excluded.win_rate, health_score = excluded.health_score,
            last_activity_at = excluded.last_activity_at, calculated_at = excluded.calculated_at;
        insert into contact_summary (contact_id, total_touchpoints, email_opens, form_submissions, engagement_score,
                                     last_activity_at, calculated_at)
        select s.*, @now from unnest(@cId, @cTotal, @cOpens, @cForms, @cEngagement, @cLast) as s
        on conflict (contact_id) do update
        set total_touchpoints = excluded.total_touchpoints, email_opens = excluded.email_opens,
            form_submissions = excluded.form_submissions, engagement_score = excluded.engagement_score,
            last_activity_at = excluded.last_activity_at, calculated_at = excluded.calculated_at;
        insert into lead_summary (lead_id, total_touchpoints, total_events, form_submissions, days_in_pipeline,
                                  last_activity_at, calculated_at)
        select s.*, @now from unnest(@lId, @lTotal, @lEvents, @lForms, @lDays, @lLast) as s
        on conflict (lead_id) do update
        set total_touchpoints = excluded.total_touchpoints, total_events = excluded.total_events,
            form_submissions = excluded.form_submissions, days_in_pipeline = excluded.days_in_pipeline,
            last_activity_at = excluded.last_activity_at, calculated_at = excluded.calculated_at;
        delete from computed_tag c
        using unnest(@tType, @tId) as e(entity_type, entity_id)
        where c.entity_type = e.entity_type and c.entity_id = e.entity_id
          and not exists (select 1 from unnest(@ntType, @ntId, @ntTag) as n(entity_type, entity_id, tag)
                          where n.entity_type = c.entity_type and n.entity_id = c.entity_id and n.tag = c.tag);
        insert into computed_tag (entity_type, entity_id, tag, reason, computed_at)
        select n.entity_type, n.entity_id, n.tag, n.reason, @now from unnest(@ntType, @ntId, @ntTag, @ntReason) as n(entity_type, entity_id, tag, reason)
        on conflict (entity_type, entity_id, tag) do update set reason = excluded.reason, computed_at = excluded.computed_at
        """;

    static bool Has(string? value) => !string.IsNullOrWhiteSpace(value);

    static DateTimeOffset? Latest(params DateTime?[] times)
    {
        DateTime? max = null;
        foreach (var t in times)
            if (t is { } v && (max is null || v > max)) max = v;
        return max is { } m ? Utc(m) : null;
    }

    sealed class ContactAccount
    {
        public Guid Contact { get; set; }
        public Guid Account { get; set; }
    }

    sealed class AccountRow
    {
        public Guid Id { get; set; }
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
        public Guid Id { get; set; }
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
        public Guid Id { get; set; }
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
