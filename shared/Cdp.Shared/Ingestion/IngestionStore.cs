using Cdp.Shared.Messaging;
using Npgsql;

namespace Cdp.Shared.Ingestion;

/// <summary>The message the data-ingestion topic carries: the receipt holds the payload.</summary>
public sealed record IngestionQueued(Guid IngestionId, string Channel);

/// <summary>
/// Stores an accepted payload and queues it for processing in one transaction, so a 202 means durable and a
/// crash can never leave a receipt without its message (or the reverse). Resends map to the first receipt.
/// </summary>
public sealed class IngestionStore(NpgsqlDataSource db)
{
    public async Task<(Guid IngestionId, bool Duplicate)> AcceptAsync(
        string channel, SourceEnvelope? source, string bodyHash, string payload, CancellationToken ct)
    {
        var id = Guid.CreateVersion7();
        await using var conn = await db.OpenConnectionAsync(ct);
        // One statement, so one round trip and one commit on the hot path: the receipt and its data-ingestion
        // message (an IngestionQueued, keyed by the source record so its versions are handled in order) are
        // written together or not at all; a conflicting resend writes neither.
        await using (var accept = new NpgsqlCommand("""
            with receipt as (
                insert into ingestion_receipt (ingestion_id, channel, source_id, source_version, body_hash, payload)
                values ($1, $2, $3, $4, $5, $6)
                on conflict do nothing
                returning ingestion_id, channel)
            insert into topic_message (topic, message_key, payload)
            select $7, $8, jsonb_build_object('ingestionId', ingestion_id, 'channel', channel) from receipt
            """, conn))
        {
            accept.Parameters.AddWithValue(id);
            accept.Parameters.AddWithValue(channel);
            accept.Parameters.AddWithValue((object?)source?.SourceId ?? DBNull.Value);
            accept.Parameters.AddWithValue((object?)source?.SourceVersion ?? DBNull.Value);
            accept.Parameters.AddWithValue(bodyHash);
            accept.Parameters.AddWithValue(payload);
            accept.Parameters.AddWithValue(Topics.DataIngestion);
            accept.Parameters.AddWithValue($"{channel}:{source?.SourceId ?? bodyHash}");
            if (await accept.ExecuteNonQueryAsync(ct) == 1) return (id, false);
        }
        // ON CONFLICT waited for any competing insert to commit, so the first receipt is visible now.
        return (await FindFirstAsync(conn, channel, source, bodyHash, ct), true);
    }

    static async Task<Guid> FindFirstAsync(NpgsqlConnection conn, string channel, SourceEnvelope? source, string bodyHash, CancellationToken ct)
    {
        await using var find = new NpgsqlCommand("""
            select ingestion_id from ingestion_receipt
            where channel = $1 and (body_hash = $2 or (source_id = $3 and source_version = $4))
            order by received_at limit 1
            """, conn);
        find.Parameters.AddWithValue(channel);
        find.Parameters.AddWithValue(bodyHash);
        find.Parameters.AddWithValue((object?)source?.SourceId ?? DBNull.Value);
        find.Parameters.AddWithValue((object?)source?.SourceVersion ?? DBNull.Value);
        return (Guid)(await find.ExecuteScalarAsync(ct))!;
    }
}
