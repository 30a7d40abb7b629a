using Cdp.Shared.Api;
using System.Text.Json;
using Cdp.Shared.Storage;
using Dapper;
using Npgsql;

namespace Cdp.Shared.Access;

/// <summary>Who did it and from where: taken from the request once, stamped on every audit row it causes.</summary>
public sealed record AuditActor(string Actor, string? RequestId, string? Ip, string? UserAgent)
{
    /// <summary>Background work (timers, retries the engine schedules) acts as the system.</summary>
    public static AuditActor System { get; } = new("system", null, null, null);

    public AuditEntry Did(string action, string? entityType = null, string? entityId = null, object? detail = null) =>
        new(this, action, entityType, entityId, detail);
}

/// <summary>One audit row. <paramref name="Detail"/> holds field names, counts and outcomes — never the personal data itself.</summary>
public sealed record AuditEntry(AuditActor By, string Action, string? EntityType, string? EntityId, object? Detail);

public sealed record AuditRecord(
    long AuditId, DateTimeOffset OccurredAt, string Actor, string Action, string? EntityType, string? EntityId, string? RequestId, string? Ip,
    string? UserAgent, JsonElement? Detail);

/// <summary>
/// The append-only audit trail (PIPL art. 51). A change writes its row in its own transaction, so a row exists exactly
/// when the change committed; a read of personal data writes one of its own.
/// </summary>
public sealed class AuditLog(NpgsqlDataSource db)
{
    public static Task WriteAsync(NpgsqlConnection conn, NpgsqlTransaction? tx, AuditEntry entry) =>
        conn.ExecuteAsync("""
            insert into audit_log (actor, action, entity_type, entity_id, request_id, ip, user_agent, detail)
            values (@Actor, @Action, @EntityType, @EntityId, @RequestId, @Ip, @UserAgent, @Detail::jsonb)
            """, new
            {
                entry.By.Actor, entry.Action, entry.EntityType, entry.EntityId, entry.By.RequestId, entry.By.Ip, UserAgent = Truncate(entry.By.UserAgent),
                Detail = entry.Detail is null ? null : JsonSerializer.Serialize(entry.Detail, CdpJson.Options),
            }, tx);

    public async Task WriteAsync(AuditEntry entry, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await WriteAsync(conn, null, entry);
    }

    /// <summary>
    /// A read's row, committed without waiting for the WAL flush (synchronous_commit off for this transaction only): every
    /// cached 360 answer writes one, and waiting on fsync made the cached read several times slower. The row is in the WAL
    /// at once and on disk within the WAL writer's delay (200 ms by default); only a crash of the database server inside
    /// that window can lose it. Changes keep the full guarantee (their rows share the change's transaction).
    /// </summary>
    public async Task WriteReadAsync(AuditEntry entry, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await conn.ExecuteAsync(new CommandDefinition("set local synchronous_commit = off", transaction: tx, cancellationToken: ct));
        await WriteAsync(conn, tx, entry);
        await tx.CommitAsync(ct);
    }

    /// <param name="Before">Rows older than this audit id only: the page after the one that ended there.</param>
    public sealed record Query(string? Actor, string? Action, string? EntityId, DateTimeOffset? From, DateTimeOffset? To, int Limit, long? Before = null);

    /// <summary>Newest first; the next page's cursor is the last row's audit id (ids only grow).</summary>
    public async Task<Page<AuditRecord>> ListAsync(Query q, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(q);
        await using var conn = await db.OpenConnectionAsync(ct);
        var rows = await conn.QueryAsync<Row>(new CommandDefinition("""
            select audit_id as AuditId, occurred_at as OccurredAt, actor, action, entity_type as EntityType, entity_id as EntityId,
                   request_id as RequestId, ip, user_agent as UserAgent, detail::text as Detail
            from audit_log
            where (@Actor is null or actor = @Actor) and (@Action is null or action = @Action) and (@EntityId is null or entity_id = @EntityId)
              and (@From is null or occurred_at >= @From) and (@To is null or occurred_at < @To)
              and (@Before::bigint is null or audit_id < @Before)
            order by audit_id desc limit @Limit
            """, new { q.Actor, q.Action, q.EntityId, q.From, q.To, Limit = q.Limit + 1, q.Before }, cancellationToken: ct));
        var records = rows.Select(r => new AuditRecord(r.AuditId, DbTime.Utc(r.OccurredAt), r.Actor, r.Action, r.EntityType, r.EntityId, r.RequestId,
            r.Ip, r.UserAgent, r.Detail is null ? null : JsonDocument.Parse(r.Detail).RootElement.Clone())).ToList();
        return Page<AuditRecord>.Of(records, q.Limit, r => new Keyset(r.OccurredAt, r.AuditId.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    static string? Truncate(string? text) => text is { Length: > 300 } ? text[..300] : text;

    sealed class Row
    {
        public long AuditId { get; set; }
        public DateTime OccurredAt { get; set; }
        public string Actor { get; set; } = "";
        public string Action { get; set; } = "";
        public string? EntityType { get; set; }
        public string? EntityId { get; set; }
        public string? RequestId { get; set; }
        public string? Ip { get; set; }
        public string? UserAgent { get; set; }
        public string? Detail { get; set; }
    }
}
