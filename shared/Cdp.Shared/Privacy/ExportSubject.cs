using System.Text.Json;
using System.Text.Json.Nodes;
using Cdp.Shared.Access;
using Cdp.Shared.Customers;
using Cdp.Shared.Events;
using Cdp.Shared.Storage;
using Dapper;
using Microsoft.Extensions.Logging;
using Npgsql;
using StackExchange.Redis;

namespace Cdp.Shared.Privacy;

/// <summary>
/// POST /api/privacy/subjects/export: every record held about one person (PIPL art. 45), as stored — Postgres rows by
/// table, the customer views Redis has cached for them, their behaviour events in ClickHouse — in one JSON document.
/// A store that does not answer is named in "unavailable" instead of failing the export.
/// </summary>
public sealed class ExportSubject(
    NpgsqlDataSource db, RedisConnection redis, ClickHouseHttp clickHouse, SubjectHash hash, ILogger<ExportSubject> logger)
{
    public const string AuditAction = "privacy.export";
    public const int MaxEvents = 10_000;

    /// <summary>Each table of the schema that can hold a person's data, and how that person's rows are found there.</summary>
    internal static readonly IReadOnlyList<(string Table, string Where)> Tables =
    [
        ("contact", "contact_id = any(@contacts)"),
        ("lead", "lead_id = any(@leads)"),
        ("contact_channel_identity", "contact_id = any(@contacts)"),
        ("lead_channel_identity", "lead_id = any(@leads)"),
        ("account_contact_relation", "contact_id = any(@contacts)"),
        ("contact_summary", "contact_id = any(@contacts)"),
        ("lead_summary", "lead_id = any(@leads)"),
        ("touchpoint", "contact_id = any(@contacts) or lead_id = any(@leads)"),
        ("follow_up", "contact_id = any(@contacts)"),
        ("customer_tag", "contact_id = any(@contacts)"),
        ("computed_tag", "entity_id = any(@entities)"),
        ("customer_owner", "entity_id = any(@entities)"),
        ("opportunity", "contact_id = any(@contacts) or lead_id = any(@leads)"),
        ("ingestion_receipt", "entity_id = any(@entities) or " + PrivacySubject.Mentions("payload")),
        ("identity_review", "resolved_entity_id = any(@entities) or " + PrivacySubject.Mentions("record::text")),
        ("sync_task", "entity_id = any(@entities) or " + PrivacySubject.Mentions("payload::text")),
        ("topic_message", "message_key = any(@userHashes) or " + PrivacySubject.Mentions("message_key") + " or " + PrivacySubject.Mentions("payload::text")),
        ("orchestration_instance", PrivacySubject.Mentions("coalesce(input::text, '') || ' ' || coalesce(output::text, '')")),
        ("staff", "mobile = @mobile"),
        ("virtual_binding", "phone_a = @mobile or phone_b = @mobile or contact_id = any(@contacts)"),
        ("call_record", "contact_id = any(@contacts)"),
        ("audit_log", "entity_id = any(@entityTexts)"),
    ];

    public async Task<JsonObject> RunAsync(PrivacySubject subject, AuditActor actor, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        // One snapshot: the person's rows as of one moment.
        await using var tx = await conn.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, ct);
        var records = await SubjectRecords.FindAsync(conn, tx, subject, hash, ct);
        var select = string.Join(",\n", Tables.Select(t =>
            $"'{t.Table}', (select coalesce(jsonb_agg(to_jsonb(t)), '[]'::jsonb) from {t.Table} t where {t.Where})"));
        var postgresJson = await conn.QuerySingleAsync<string>(new CommandDefinition(
            $"select jsonb_build_object({select})::text", Parameters(subject, records), tx, cancellationToken: ct));
        await tx.CommitAsync(ct);

        var unavailable = new JsonArray();
        var document = new JsonObject
        {
            ["subject"] = new JsonObject { ["mobile"] = subject.Mobile, ["email"] = subject.Email },
            ["entities"] = new JsonObject
            {
                ["contacts"] = new JsonArray([.. records.Contacts.Select(id => JsonValue.Create(id))]),
                ["leads"] = new JsonArray([.. records.Leads.Select(id => JsonValue.Create(id))]),
                ["accounts"] = new JsonArray([.. records.Accounts.Select(id => JsonValue.Create(id))]),
            },
            ["postgres"] = JsonNode.Parse(postgresJson),
            ["redis"] = await RedisAsync(records, unavailable),
            ["clickhouse"] = new JsonObject { [ClickHouseHttp.Table] = await EventsAsync(records, unavailable, ct) },
            ["unavailable"] = unavailable,
        };

        var counts = ((JsonObject)document["postgres"]!).Where(p => p.Value is JsonArray { Count: > 0 })
            .ToDictionary(p => p.Key, p => ((JsonArray)p.Value!).Count);
        await using (var audit = await db.OpenConnectionAsync(ct))
            await AuditLog.WriteAsync(audit, null, actor.Did(AuditAction, "subject", hash.Subject(subject.Mobile, subject.Email),
                new { tables = counts, cachedViews = ((JsonObject)document["redis"]!).Count, events = ((JsonArray)document["clickhouse"]![ClickHouseHttp.Table]!).Count }));
        return document;
    }

    internal static object Parameters(PrivacySubject subject, SubjectRecords r) => new
    {
        mobile = subject.Mobile, email = subject.Email, mobilePattern = subject.MobilePattern,
        contacts = r.Contacts, leads = r.Leads, entities = r.Entities, userHashes = r.UserHashes,
        entityTexts = r.Entities.Select(e => e.ToString()).ToArray(),
    };

    /// <summary>The full (unmasked) cached view of each of their contacts and leads and of the accounts that list them.</summary>
    async Task<JsonObject> RedisAsync(SubjectRecords records, JsonArray unavailable)
    {
        var result = new JsonObject();
        var refs = records.Contacts.Select(CustomerRef.Contact).Concat(records.Leads.Select(CustomerRef.Lead)).Concat(records.Accounts.Select(CustomerRef.Account)).ToList();
        if (refs.Count == 0) return result;
        try
        {
            var keys = refs.Select(r => (RedisKey)CustomerViewCache.Keys.Of(r).Value).ToArray();
            var values = await redis.Database.StringGetAsync(keys);
            for (var i = 0; i < keys.Length; i++)
                if (values[i].HasValue) result[(string)keys[i]!] = JsonNode.Parse((string)values[i]!);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            logger.LogWarning(e, "Privacy export: Redis did not answer");
            unavailable.Add("redis");
        }
        return result;
    }

    async Task<JsonArray> EventsAsync(SubjectRecords r, JsonArray unavailable, CancellationToken ct)
    {
        var events = new JsonArray();
        if (EventsWhere(r) is not { } where) return events;
        try
        {
            foreach (var line in await clickHouse.QueryLinesAsync(
                $"SELECT * FROM {clickHouse.EventsTable} WHERE {where} ORDER BY occurred_at LIMIT {MaxEvents} FORMAT JSONEachRow", ct))
                events.Add(JsonNode.Parse(line));
        }
        catch (ClickHouseException e) when (e.Message.Contains("UNKNOWN_TABLE", StringComparison.Ordinal) || e.Message.Contains("doesn't exist", StringComparison.Ordinal))
        {
            // No event was ever written.
        }
        catch (Exception e) when (e is ClickHouseException or HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            logger.LogWarning(e, "Privacy export: ClickHouse did not answer");
            unavailable.Add("clickhouse");
        }
        return events;
    }

    /// <summary>The ClickHouse condition for one person's events; null when nothing can name them there.</summary>
    internal static string? EventsWhere(SubjectRecords r)
    {
        var parts = new List<string>();
        if (r.Contacts.Length > 0) parts.Add($"contact_id IN ({string.Join(",", r.Contacts.Select(id => $"toUUID('{id}')"))})");
        if (r.Leads.Length > 0) parts.Add($"lead_id IN ({string.Join(",", r.Leads.Select(id => $"toUUID('{id}')"))})");
        // Hashes are [u_0-9a-f] only (SubjectHash), so they are safe inside quotes.
        if (r.UserHashes.Length > 0) parts.Add($"user_id IN ({string.Join(",", r.UserHashes.Where(SubjectHash.IsUserHash).Select(h => $"'{h}'"))})");
        return parts.Count == 0 ? null : string.Join(" OR ", parts);
    }
}
