using System.Text.Json;
using Cdp.Shared.Cleansing;
using Npgsql;

namespace Cdp.Shared.Ingestion;

/// <summary>GET /api/ingestions/{id}: what became of one push.</summary>
public sealed record IngestionStatus(
    Guid IngestionId, string Channel, string Status, DateTimeOffset ReceivedAt, DateTimeOffset? ProcessedAt,
    string? EntityType, Guid? EntityId, Guid? ReviewId, IReadOnlyList<FieldError> Errors);

public sealed class IngestionStatusQuery(NpgsqlDataSource db)
{
    public async Task<IngestionStatus?> GetAsync(Guid id, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            select ingestion_id, channel, status, received_at, processed_at, entity_type, entity_id, review_id, errors::text
            from ingestion_receipt where ingestion_id = $1
            """);
        cmd.Parameters.AddWithValue(id);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        if (!await r.ReadAsync(ct)) return null;
        return new IngestionStatus(
            r.GetGuid(0), r.GetString(1), r.GetString(2), r.GetFieldValue<DateTimeOffset>(3),
            r.IsDBNull(4) ? null : r.GetFieldValue<DateTimeOffset>(4),
            r.IsDBNull(5) ? null : r.GetString(5),
            r.IsDBNull(6) ? null : r.GetGuid(6),
            r.IsDBNull(7) ? null : r.GetGuid(7),
            JsonSerializer.Deserialize<List<FieldError>>(r.GetString(8), CdpJson.Options) ?? []);
    }
}
