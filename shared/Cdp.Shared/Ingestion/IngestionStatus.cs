using System.Text.Json;
using Cdp.Shared.Api;
using Cdp.Shared.Cleansing;
using Npgsql;
using NpgsqlTypes;

namespace Cdp.Shared.Ingestion;

/// <summary>GET /api/ingestions/{id}: what became of one push (and each row of the list).</summary>
public sealed record IngestionStatus(
    Guid IngestionId, string Channel, string Status, DateTimeOffset ReceivedAt, DateTimeOffset? ProcessedAt,
    string? EntityType, Guid? EntityId, Guid? ReviewId, IReadOnlyList<FieldError> Errors, string? SourceId = null);

/// <summary>GET /api/ingestions filters: each one given narrows the list; times bound <c>receivedAt</c> (from inclusive, to exclusive).</summary>
public sealed record IngestionFilter(string? Channel, string? Status, string? SourceId, DateTimeOffset? From, DateTimeOffset? To);

public sealed class IngestionStatusQuery(NpgsqlDataSource db)
{
    public static readonly IReadOnlyList<string> Statuses = ["queued", "processed", "review", "rejected", "failed"];

    const string Columns = "ingestion_id, channel, status, received_at, processed_at, entity_type, entity_id, review_id, errors::text, source_id";

    public async Task<IngestionStatus?> GetAsync(Guid id, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand($"select {Columns} from ingestion_receipt where ingestion_id = $1");
        cmd.Parameters.AddWithValue(id);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? Read(r) : null;
    }

    /// <summary>Newest first (received_at, then id), from the keyset <paramref name="after"/> on; ingestion_receipt_received_ix serves the order.</summary>
    public async Task<Page<IngestionStatus>> ListAsync(IngestionFilter filter, int limit, Keyset? after, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(filter);
        await using var cmd = db.CreateCommand($"""
            select {Columns} from ingestion_receipt
             where ($1::text is null or channel = $1) and ($2::text is null or status = $2) and ($3::text is null or source_id = $3)
               and ($4::timestamptz is null or received_at >= $4) and ($5::timestamptz is null or received_at < $5)
               and ($6::timestamptz is null or (received_at, ingestion_id) < ($6, $7))
             order by received_at desc, ingestion_id desc
             limit $8
            """);
        cmd.Parameters.Add(Text(filter.Channel));
        cmd.Parameters.Add(Text(filter.Status));
        cmd.Parameters.Add(Text(filter.SourceId));
        cmd.Parameters.Add(Time(filter.From));
        cmd.Parameters.Add(Time(filter.To));
        cmd.Parameters.Add(Time(after?.At));
        cmd.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Uuid, Value = after is { } k ? Guid.Parse(k.Id) : DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter { Value = limit + 1 });
        var rows = new List<IngestionStatus>();
        await using (var r = await cmd.ExecuteReaderAsync(ct))
        {
            while (await r.ReadAsync(ct)) rows.Add(Read(r));
        }
        return Page<IngestionStatus>.Of(rows, limit, s => new Keyset(s.ReceivedAt, s.IngestionId.ToString()));
    }

    static NpgsqlParameter Text(string? value) => new() { NpgsqlDbType = NpgsqlDbType.Text, Value = (object?)value ?? DBNull.Value };
    static NpgsqlParameter Time(DateTimeOffset? value) => new() { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = (object?)value?.ToUniversalTime() ?? DBNull.Value };

    static IngestionStatus Read(NpgsqlDataReader r) => new(
        r.GetGuid(0), r.GetString(1), r.GetString(2), r.GetFieldValue<DateTimeOffset>(3),
        r.IsDBNull(4) ? null : r.GetFieldValue<DateTimeOffset>(4),
        r.IsDBNull(5) ? null : r.GetString(5),
        r.IsDBNull(6) ? null : r.GetGuid(6),
        r.IsDBNull(7) ? null : r.GetGuid(7),
        JsonSerializer.Deserialize<List<FieldError>>(r.GetString(8), CdpJson.Options) ?? [],
        r.IsDBNull(9) ? null : r.GetString(9));
}
