using System.Text.Json;
using Cdp.Shared.Cleansing;
using Npgsql;
using NpgsqlTypes;

namespace Cdp.Shared.Ingestion;

/// <summary>Ends a receipt that will not become an entity: 'rejected' (its data broke a rule) or 'failed' (we gave up).</summary>
public static class IngestionReceipts
{
    public static async Task SettleAsync(NpgsqlDataSource db, Guid ingestionId, string status, IReadOnlyList<FieldError> errors, CancellationToken ct)
    {
        await using var batch = db.CreateBatch();
        batch.BatchCommands.Add(SettleCommand(ingestionId, status, errors));
        await batch.ExecuteNonQueryAsync(ct);
    }

    /// <summary>The settle as a batch command, for a caller that sends several together.</summary>
    public static NpgsqlBatchCommand SettleCommand(Guid ingestionId, string status, IReadOnlyList<FieldError> errors) =>
        new("""
            update ingestion_receipt set status = $2, errors = $3, processed_at = now()
            where ingestion_id = $1 and status = 'queued'
            """)
        {
            Parameters =
            {
                new() { Value = ingestionId },
                new() { Value = status },
                new() { Value = JsonSerializer.Serialize(errors, CdpJson.Options), NpgsqlDbType = NpgsqlDbType.Jsonb },
            },
        };

    /// <summary>The pipeline gave up after its retries: say so on the receipt, with the last error.</summary>
    public static Task FailAsync(NpgsqlDataSource db, Guid ingestionId, string stage, string error, CancellationToken ct) =>
        SettleAsync(db, ingestionId, "failed", [new FieldError(stage, $"Gave up after retries: {error}")], ct);
}
