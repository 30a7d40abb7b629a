using System.Threading.Channels;
using Cdp.Shared.Messaging;
using Cdp.Shared.Telemetry;
using Npgsql;
using NpgsqlTypes;

namespace Cdp.Shared.Ingestion;

/// <summary>The message the data-ingestion topic carries: the receipt holds the payload.</summary>
public sealed record IngestionQueued(Guid IngestionId, string Channel);

/// <summary>
/// Stores accepted payloads and queues them for processing, durably, before anyone answers 202.
/// Group commit: pushes arriving together are written by one statement and one commit (one fsync) instead of one
/// each — the ceiling of one transaction per webhook is the disk's flush rate, not the API's. Each receipt and its
/// data-ingestion message are written together or not at all; a resend (same channel + source id + version, or
/// same body) writes nothing and maps to the first receipt.
/// </summary>
public sealed class IngestionStore : IAsyncDisposable
{
    const int MaxBatch = 256;
    const int Writers = 4;   // a few batches in flight, so one batch's commit overlaps the next one's gathering

    readonly NpgsqlDataSource db;
    readonly Channel<Pending> queue = Channel.CreateBounded<Pending>(new BoundedChannelOptions(20_000) { SingleReader = false });
    readonly Lazy<Task[]> writers;

    public IngestionStore(NpgsqlDataSource db)
    {
        this.db = db;
        writers = new(() => Enumerable.Range(0, Writers).Select(_ => Task.Run(WriteLoopAsync)).ToArray());
    }

    public async Task<(Guid IngestionId, bool Duplicate)> AcceptAsync(
        string channel, SourceEnvelope? source, string bodyHash, string payload, CancellationToken ct)
    {
        _ = writers.Value;
        var pending = new Pending(Guid.CreateVersion7(), channel, source, bodyHash, payload, CdpTelemetry.CurrentTraceParent);
        await queue.Writer.WriteAsync(pending, ct);
        // Not cancellable once queued: the write goes ahead, and a sender that gave up resends and gets the same id.
        return await pending.Done.Task;
    }

    public async ValueTask DisposeAsync()
    {
        queue.Writer.TryComplete();
        if (writers.IsValueCreated) await Task.WhenAll(writers.Value);
    }

    async Task WriteLoopAsync()
    {
        var batch = new List<Pending>(MaxBatch);
        while (await queue.Reader.WaitToReadAsync())
        {
            while (batch.Count < MaxBatch && queue.Reader.TryRead(out var next)) batch.Add(next);
            if (batch.Count == 0) continue;
            try
            {
                await WriteAsync(batch);
            }
            catch (Exception e)
            {
                foreach (var p in batch) p.Done.TrySetException(e);
            }
            batch.Clear();
        }
    }

    async Task WriteAsync(List<Pending> batch)
    {
        await using var conn = await db.OpenConnectionAsync();
        var inserted = new HashSet<Guid>();
        // The messages follow the receipts in arrival order (n), so versions of one source record stay in order.
        await using (var accept = new NpgsqlCommand("""
            with incoming as (
                select * from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $8::text[])
                    with ordinality as t(ingestion_id, channel, source_id, source_version, body_hash, payload, traceparent, n)),
            receipt as (
                insert into ingestion_receipt (ingestion_id, channel, source_id, source_version, body_hash, payload)
                select ingestion_id, channel, source_id, source_version, body_hash, payload from incoming order by n
                on conflict do nothing
                returning ingestion_id),
            queued as (
                insert into topic_message (topic, message_key, payload, traceparent)
                select $7, i.channel || ':' || coalesce(i.source_id, i.body_hash),
                       jsonb_build_object('ingestionId', i.ingestion_id, 'channel', i.channel), i.traceparent
                from receipt r join incoming i using (ingestion_id) order by i.n)
            select ingestion_id from receipt
            """, conn))
        {
            accept.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = [.. batch.Select(p => p.Id)] });
            accept.Parameters.Add(Texts(batch.Select(p => p.Channel)));
            accept.Parameters.Add(Texts(batch.Select(p => p.Source?.SourceId)));
            accept.Parameters.Add(Texts(batch.Select(p => p.Source?.SourceVersion)));
            accept.Parameters.Add(Texts(batch.Select(p => p.BodyHash)));
            accept.Parameters.Add(Texts(batch.Select(p => p.Payload)));
            accept.Parameters.AddWithValue(Topics.DataIngestion);
            accept.Parameters.Add(Texts(batch.Select(p => p.TraceParent)));
            await using var reader = await accept.ExecuteReaderAsync();
            while (await reader.ReadAsync()) inserted.Add(reader.GetGuid(0));
        }

        foreach (var p in batch)
        {
            if (inserted.Contains(p.Id)) p.Done.TrySetResult((p.Id, false));
            // ON CONFLICT waited for any competing insert to commit, so the first receipt is visible now.
            else p.Done.TrySetResult((await FindFirstAsync(conn, p), true));
        }
    }

    static NpgsqlParameter Texts(IEnumerable<string?> values) =>
        new NpgsqlParameter<string?[]> { TypedValue = [.. values], NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text };

    static async Task<Guid> FindFirstAsync(NpgsqlConnection conn, Pending p)
    {
        await using var find = new NpgsqlCommand("""
            select ingestion_id from ingestion_receipt
            where channel = $1 and (body_hash = $2 or (source_id = $3 and source_version = $4))
            order by received_at, ingestion_id limit 1
            """, conn);
        find.Parameters.AddWithValue(p.Channel);
        find.Parameters.AddWithValue(p.BodyHash);
        find.Parameters.AddWithValue((object?)p.Source?.SourceId ?? DBNull.Value);
        find.Parameters.AddWithValue((object?)p.Source?.SourceVersion ?? DBNull.Value);
        return (Guid)(await find.ExecuteScalarAsync())!;
    }

    sealed record Pending(Guid Id, string Channel, SourceEnvelope? Source, string BodyHash, string Payload, string? TraceParent)
    {
        public TaskCompletionSource<(Guid, bool)> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
