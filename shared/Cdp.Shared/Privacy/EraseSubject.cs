using System.Text.Json;
using System.Text.Json.Nodes;
using Cdp.Shared.Access;
using Cdp.Shared.Customers;
using Cdp.Shared.Events;
using Cdp.Shared.Messaging;
using Cdp.Shared.Storage;
using Cdp.Shared.Summaries;
using Dapper;
using Microsoft.Extensions.Logging;
using Npgsql;
using StackExchange.Redis;

namespace Cdp.Shared.Privacy;

/// <summary>GET /api/privacy/requests/{id}: where an erasure stands. Never the subject itself.</summary>
public sealed record PrivacyRequestView(
    Guid RequestId, string Kind, string Status, string SubjectHash, string Reason, JsonElement Progress, int Attempts, string? LastError,
    string RequestedBy, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? CompletedAt);

/// <summary>
/// Erasure of one person (PIPL art. 47), durable: the request is a privacy_request row written with its audit row, and
/// <see cref="RunAsync"/> (the activity of the erase orchestration, re-run by housekeeping for a request left unfinished)
/// takes it through its steps, each idempotent and recorded in <c>progress</c>:
/// <list type="number">
/// <item>postgres — one transaction: their contacts and leads deleted (with everything that cascades: identities,
/// relations, summaries, touchpoints, follow-ups, tags), opportunities and converted leads unlinked from them, ownership
/// and computed tags deleted, raw payloads that name them reduced to hash and outcome, their review records, sync tasks,
/// queued messages and finished orchestrations deleted, staff and privacy-number fields cleared; the summaries of the
/// accounts that counted them queued for recalculation, and the audit row;</item>
/// <item>redis — their cached customer views and summary locks deleted, their accounts' views invalidated;</item>
/// <item>clickhouse — <c>ALTER TABLE … DELETE WHERE</c> their contact, lead and user hashes, waited for until the mutation is done,
/// and the daily counts of the customers those events named recounted;</item>
/// <item>done — the mobile and email are cleared from the request row, which keeps only the subject's keyed hash.</item>
/// </list>
/// </summary>
public sealed class EraseSubject(
    NpgsqlDataSource db, RedisConnection redis, ClickHouseHttp clickHouse, CustomerViewCache views, SubjectHash hash,
    ILogger<EraseSubject> logger)
{
    public const string RequestAction = "privacy.erase.request";
    public const string EraseAction = "privacy.erase";
    public static readonly TimeSpan MutationWait = TimeSpan.FromMinutes(5);

    /// <summary>Records the request (and its audit row) in one transaction; the caller then starts the erasure.</summary>
    public async Task<Guid> RequestAsync(PrivacySubject subject, string reason, AuditActor actor, CancellationToken ct)
    {
        var id = Guid.CreateVersion7();
        var subjectHash = hash.Subject(subject.Mobile, subject.Email);
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await conn.ExecuteAsync(new CommandDefinition("""
            insert into privacy_request (request_id, kind, subject_hash, mobile, email, reason, requested_by)
            values (@id, 'erase', @subjectHash, @Mobile, @Email, @reason, @Actor)
            """, new { id, subjectHash, subject.Mobile, subject.Email, reason, actor.Actor }, tx, cancellationToken: ct));
        await AuditLog.WriteAsync(conn, tx, actor.Did(RequestAction, "privacy_request", id.ToString(), new { subject = subjectHash }));
        await tx.CommitAsync(ct);
        return id;
    }

    public async Task<PrivacyRequestView?> GetAsync(Guid id, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var row = await conn.QuerySingleOrDefaultAsync<Row>(new CommandDefinition("""
            select request_id as RequestId, kind as Kind, status as Status, subject_hash as SubjectHash, reason as Reason,
                   progress::text as Progress, attempts as Attempts, last_error as LastError, requested_by as RequestedBy,
                   created_at as CreatedAt, updated_at as UpdatedAt, completed_at as CompletedAt
            from privacy_request where request_id = @id
            """, new { id }, cancellationToken: ct));
        return row is null ? null : new PrivacyRequestView(row.RequestId, row.Kind, row.Status, row.SubjectHash, row.Reason,
            JsonDocument.Parse(row.Progress).RootElement.Clone(), row.Attempts, row.LastError, row.RequestedBy,
            DbTime.Utc(row.CreatedAt), DbTime.Utc(row.UpdatedAt), row.CompletedAt is { } c ? DbTime.Utc(c) : null);
    }

    /// <summary>Requests not completed whose last step is older than <paramref name="before"/> (housekeeping resumes them).</summary>
    public async Task<IReadOnlyList<Guid>> UnfinishedSinceAsync(DateTimeOffset before, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        return [.. await conn.QueryAsync<Guid>(new CommandDefinition("""
            select request_id from privacy_request where status in ('pending', 'running', 'failed') and updated_at < @before
            order by updated_at limit 100
            """, new { before }, cancellationToken: ct))];
    }

    /// <summary>Takes the request through its remaining steps; the status it ends in. A failed step is recorded and rethrown (to be retried).</summary>
    public async Task<string> RunAsync(Guid id, CancellationToken ct)
    {
        var request = await LoadAsync(id, ct);
        if (request is null) return "missing";
        if (request.Status == "completed") return "completed";
        await SetAsync(id, "running", null, null, ct);
        try
        {
            var subject = new PrivacySubject(request.Mobile, request.Email);
            var progress = request.Progress;
            if (progress["postgres"] is null) progress = await ErasePostgresAsync(id, subject, progress, ct);
            var records = progress["records"]!.Deserialize<SubjectRecords>(CdpJson.Options)!;
            if (progress["redis"] is null)
            {
                progress["redis"] = await EraseRedisAsync(records);
                await SetAsync(id, "running", progress, null, ct);
            }
            if (progress["clickhouse"] is null)
            {
                progress["clickhouse"] = await EraseClickHouseAsync(records, ct);
                await SetAsync(id, "running", progress, null, ct);
            }
            await CompleteAsync(id, ct);
            logger.LogInformation("Privacy request {RequestId} erased {Contacts} contact(s) and {Leads} lead(s)", id, records.Contacts.Length, records.Leads.Length);
            return "completed";
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Privacy request {RequestId}: a step failed; it is retried", id);
            await SetAsync(id, "running", null, e.GetType().Name + ": " + Truncate(e.Message), CancellationToken.None);
            throw;
        }
    }

    /// <summary>After the retries are spent: failed (housekeeping still resumes it later).</summary>
    public Task MarkFailedAsync(Guid id, string error, CancellationToken ct) => SetAsync(id, "failed", null, Truncate(error), ct);

    async Task<JsonObject> ErasePostgresAsync(Guid id, PrivacySubject subject, JsonObject progress, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        // One erasure at a time per request (a redelivered activity waits, then finds the step done).
        await conn.ExecuteAsync(new CommandDefinition("select 1 from privacy_request where request_id = @id for update", new { id }, tx, cancellationToken: ct));
        var done = await conn.QuerySingleAsync<string>(new CommandDefinition("select progress::text from privacy_request where request_id = @id", new { id }, tx, cancellationToken: ct));
        if (JsonNode.Parse(done)!["postgres"] is not null) return JsonNode.Parse(done)!.AsObject();

        var records = await SubjectRecords.FindAsync(conn, tx, subject, hash, ct);
        var p = ExportSubject.Parameters(subject, records);
        var counts = new JsonObject();
        async Task Run(string name, string sql)
        {
            var n = await conn.ExecuteAsync(new CommandDefinition(sql, p, tx, cancellationToken: ct));
            if (n > 0) counts[name] = n;
        }

        await Run("opportunity", "update opportunity set contact_id = case when contact_id = any(@contacts) then null else contact_id end, lead_id = case when lead_id = any(@leads) then null else lead_id end where contact_id = any(@contacts) or lead_id = any(@leads)");
        await Run("lead_unlinked", "update lead set converted_contact_id = null where converted_contact_id = any(@contacts) and not lead_id = any(@leads)");
        await Run("customer_owner", "delete from customer_owner where entity_type in ('contact', 'lead') and entity_id = any(@entities)");
        await Run("computed_tag", "delete from computed_tag where entity_type in ('contact', 'lead') and entity_id = any(@entities)");
        await Run("ingestion_receipt", $"""
            update ingestion_receipt
               set payload = null, payload_dropped_at = coalesce(payload_dropped_at, now()), entity_id = null, review_id = null,
                   status = case when status = 'queued' then 'rejected' else status end,
                   errors = case when status = 'queued' then '[{"{"}"field":"subject","message":"Erased on request before it was processed."{"}"}]'::jsonb else errors end,
                   processed_at = coalesce(processed_at, now())
             where entity_id = any(@entities) or {PrivacySubject.Mentions("payload")}
            """);
        await Run("identity_review", $"delete from identity_review where resolved_entity_id = any(@entities) or {PrivacySubject.Mentions("record::text")}");
        await Run("sync_task", $"delete from sync_task where entity_id = any(@entities) or {PrivacySubject.Mentions("payload::text")}");
        // An accepted request's events wait as one event-stream message (an array of rows) that may hold other people's
        // events too: their rows of it go, the rest stays queued. Before the delete below, which would take the whole
        // message if one of its rows mentioned them.
        var erasedRow = $"coalesce(r->>'user_id' = any(@userHashes) or r->>'contact_id' = any(@entityTexts) or r->>'lead_id' = any(@entityTexts) or {PrivacySubject.Mentions("r::text")}, false)";
        await Run("event_stream_rows", $"""
            update topic_message m
               set payload = (select coalesce(json_agg(r order by n), '[]'::json) from json_array_elements(m.payload) with ordinality x(r, n) where not {erasedRow}),
                   item_count = (select count(*) from json_array_elements(m.payload) x(r) where not {erasedRow})
             where m.topic = '{Topics.EventStream}' and json_typeof(m.payload) = 'array'
               and exists (select 1 from json_array_elements(m.payload) x(r) where {erasedRow})
            """);
        await Run("topic_message", $"delete from topic_message where message_key = any(@userHashes) or {PrivacySubject.Mentions("message_key")} or {PrivacySubject.Mentions("payload::text")}");
        await Run("orchestration_instance", $"""
            delete from orchestration_instance o where status in ('Completed', 'Failed', 'Terminated')
               and ({PrivacySubject.Mentions("coalesce(o.input::text, '') || ' ' || coalesce(o.output::text, '')")}
                    or exists (select 1 from orchestration_history h where h.instance_id = o.instance_id and {PrivacySubject.Mentions("h.payload::text")}))
            """);
        await Run("lead", "delete from lead where lead_id = any(@leads)");
        await Run("contact", "delete from contact where contact_id = any(@contacts)");
        await Run("staff", "update staff set mobile = null, updated_at = now() where mobile = @mobile");
        // Bindings keep their state and X for the provider's records; the person's number (A) goes, a staff member's own (B) is blanked.
        await Run("virtual_binding", "update virtual_binding set phone_a = case when phone_a = @mobile then null else phone_a end, phone_b = case when phone_b = @mobile then '' else phone_b end, updated_at = now() where phone_a = @mobile or phone_b = @mobile");
        await TopicPublisher.PublishManyAsync(conn, tx, Topics.SummaryCalculation, records.Accounts.Select(a =>
            ($"{SummaryRecalculation.Account}:{a}", new SummaryRecalculation(SummaryRecalculation.Account, a, "erasure"))), ct);

        progress["postgres"] = counts;
        progress["records"] = JsonSerializer.SerializeToNode(records, CdpJson.Options);
        await conn.ExecuteAsync(new CommandDefinition("""
            update privacy_request set progress = @progress::jsonb, updated_at = now() where request_id = @id
            """, new { id, progress = progress.ToJsonString() }, tx, cancellationToken: ct));
        await AuditLog.WriteAsync(conn, tx, AuditActor.System.Did(EraseAction, "privacy_request", id.ToString(),
            new { contacts = records.Contacts.Length, leads = records.Leads.Length, rows = counts }));
        await tx.CommitAsync(ct);
        return progress;
    }

    /// <summary>Redis unreachable fails the step (retried): a cached view would otherwise show the person for up to its TTL.</summary>
    async Task<int> EraseRedisAsync(SubjectRecords records)
    {
        var refs = records.Contacts.Select(CustomerRef.Contact).Concat(records.Leads.Select(CustomerRef.Lead)).ToList();
        var keys = refs.SelectMany(r =>
        {
            var k = CustomerViewCache.Keys.Of(r);
            return new RedisKey[] { k.Value, k.Masked, k.Generation, k.Lock, SummaryLock.LockKey(r.Kind, r.Id), SummaryLock.DirtyKey(r.Kind, r.Id) };
        }).ToArray();
        var deleted = keys.Length == 0 ? 0 : (int)await redis.Database.KeyDeleteAsync(keys);
        // The account views list the contact: delete them now, the recalculated summaries follow.
        await views.InvalidateAsync(records.Accounts.Select(CustomerRef.Account));
        return deleted;
    }

    async Task<string> EraseClickHouseAsync(SubjectRecords records, CancellationToken ct)
    {
        if (ExportSubject.EventsWhere(records) is not { } where) return "nothing to delete";
        if (!await clickHouse.EventsTableExistsAsync(ct)) return "no events table";
        // The ordered copies too, then the daily counts of every customer the deleted events named. Their contacts,
        // leads and accounts are recounted even when no event is left to name them: a retry after a crash between
        // the delete and the recount finds the events gone but must still finish the recount.
        await clickHouse.DeleteEventsAsync(where, MutationWait, ct, alsoRecount:
            records.Contacts.Select(c => ("contact", c)).Concat(records.Leads.Select(l => ("lead", l))).Concat(records.Accounts.Select(a => ("account", a))));
        return "deleted";
    }

    async Task CompleteAsync(Guid id, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await conn.ExecuteAsync(new CommandDefinition("""
            update privacy_request set status = 'completed', mobile = null, email = null, last_error = null,
                   completed_at = now(), updated_at = now()
            where request_id = @id
            """, new { id }, cancellationToken: ct));
    }

    async Task<Request?> LoadAsync(Guid id, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var row = await conn.QuerySingleOrDefaultAsync<(string Status, string? Mobile, string? Email, string Progress)>(new CommandDefinition(
            "select status, mobile, email, progress::text from privacy_request where request_id = @id", new { id }, cancellationToken: ct));
        return row.Status is null ? null : new Request(row.Status, row.Mobile, row.Email, JsonNode.Parse(row.Progress)!.AsObject());
    }

    async Task SetAsync(Guid id, string status, JsonObject? progress, string? error, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await conn.ExecuteAsync(new CommandDefinition("""
            update privacy_request set status = @status, progress = coalesce(@progress::jsonb, progress), last_error = @error,
                   attempts = attempts + case when @progress is null and @error is null then 1 else 0 end, updated_at = now()
            where request_id = @id and status <> 'completed'
            """, new { id, status, progress = progress?.ToJsonString(), error }, cancellationToken: ct));
    }

    static string Truncate(string s) => s.Length <= 500 ? s : s[..500];

    sealed record Request(string Status, string? Mobile, string? Email, JsonObject Progress);

    sealed class Row
    {
        public Guid RequestId { get; set; }
        public string Kind { get; set; } = "";
        public string Status { get; set; } = "";
        public string SubjectHash { get; set; } = "";
        public string Reason { get; set; } = "";
        public string Progress { get; set; } = "{}";
        public int Attempts { get; set; }
        public string? LastError { get; set; }
        public string RequestedBy { get; set; } = "";
        public DateTime CreatedAt { get; set; }
        public DateTime UpdatedAt { get; set; }
        public DateTime? CompletedAt { get; set; }
    }
}
