using Cdp.Shared.Messaging;
using Dapper;
using Npgsql;

namespace Cdp.Shared.Summaries;

/// <summary>One page of the full recalculation: entities of one type with ids after <see cref="AfterId"/>, in id order.</summary>
public sealed record SummaryBatch(string EntityType, Guid? AfterId, int Size);

/// <summary>How many entities the page queued, and the last id (where the next page starts).</summary>
public sealed record SummaryBatchResult(int Queued, Guid? LastId);

/// <summary>
/// Queues a summary-calculation message for each entity of one page (keyset pagination by primary key, so a page is an
/// index range however large the table). Running a page again only queues its recalculations again, which is harmless.
/// </summary>
public sealed class SummaryBatches(NpgsqlDataSource db)
{
    public async Task<SummaryBatchResult> QueueAsync(SummaryBatch batch, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var (table, key) = batch.EntityType switch
        {
            SummaryRecalculation.Account => ("account", "account_id"),
            SummaryRecalculation.Contact => ("contact", "contact_id"),
            SummaryRecalculation.Lead => ("lead", "lead_id"),
            _ => throw new ArgumentOutOfRangeException(nameof(batch), batch.EntityType, "Unknown entity type."),
        };
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var ids = (await conn.QueryAsync<Guid>(new CommandDefinition($"""
            select {key} from {table} where @afterId::uuid is null or {key} > @afterId order by {key} limit @size
            """, new { afterId = batch.AfterId, size = batch.Size }, tx, cancellationToken: ct))).ToList();
        await TopicPublisher.PublishManyAsync(conn, tx, Topics.SummaryCalculation,
            ids.Select(id => ($"{batch.EntityType}:{id}", new SummaryRecalculation(batch.EntityType, id, "full_recalculation"))), ct);
        await tx.CommitAsync(ct);
        return new SummaryBatchResult(ids.Count, ids.Count == 0 ? batch.AfterId : ids[^1]);
    }
}
