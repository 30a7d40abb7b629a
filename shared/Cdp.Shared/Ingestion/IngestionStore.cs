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
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var id = Guid.CreateVersion7();
        await using (var insert = new NpgsqlCommand("""
            insert into ingestion_receipt (ingestion_id, channel, source_id, source_version, body_hash, payload)
            values ($1, $2, $3, $4, $5, $6)
            on conflict do nothing
            """, conn, tx))
        {
            insert.Parameters.AddWithValue(id);
            insert.Parameters.AddWithValue(channel);
            insert.Parameters.AddWithValue((object?)source?.SourceId ?? DBNull.Value);
            insert.Parameters.AddWithValue((object?)source?.SourceVersion ?? DBNull.Value);
            insert.Parameters.AddWithValue(bodyHash);
            insert.Parameters.AddWithValue(payload);
            if (await insert.ExecuteNonQueryAsync(ct) == 1)
            {
                // Keyed by the source record so versions of one record are processed in order.
                var key = $"{channel}:{source?.SourceId ?? bodyHash}";
                await TopicPublisher.PublishAsync(conn, tx, Topics.DataIngestion, key, new IngestionQueued(id, channel), ct);
                await tx.CommitAsync(ct);
                return (id, false);
            }
        }
        await tx.RollbackAsync(ct);
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
