using Cdp.Shared.Messaging;
using Cdp.Shared.Storage;
using Cdp.Shared.Telemetry;
using Npgsql;
using NpgsqlTypes;
using static Cdp.Shared.Storage.SqlArrays;

namespace Cdp.Shared.Ingestion;

/// <summary>The message the data-ingestion topic carries: the receipt holds the payload.</summary>
public sealed record IngestionQueued(Guid IngestionId, string Channel);

/// <summary>
/// One receipt for <see cref="IngestionStore.WriteReceiptsAsync"/>: a webhook's is 'queued' (cleansing comes later); an
/// import's is already cleansed, 'queued' or 'rejected' with its reasons (<see cref="Errors"/>, a JSON array).
/// </summary>
public sealed record ReceiptToWrite(Guid IngestionId, string Channel, SourceEnvelope? Source, string BodyHash, string Payload)
{
    public string Status { get; init; } = "queued";
    public string? Errors { get; init; }
    public string? TraceParent { get; init; }
}

/// <summary>
/// Stores accepted payloads and queues them for processing, durably, before anyone answers 202.
/// Group commit: pushes arriving together are written by one statement and one commit (one fsync) instead of one
/// each — the ceiling of one transaction per webhook is the disk's flush rate, not the API's. Each receipt and its
/// data-ingestion message are written together or not at all; a resend (same channel + source id + version, or
/// same body) writes nothing and maps to the first receipt.
/// </summary>
public sealed class IngestionStore(NpgsqlDataSource db)
{
    // Up to 256 pushes per statement; a few batches in flight, so one batch's commit overlaps the next one's gathering.
    readonly MicroBatcher<ReceiptToWrite, (Guid IngestionId, bool Duplicate)> writes = new(
        rows => WriteAsync(db, rows), maxBatch: 256, inFlight: 4);

    /// <summary>Not cancellable once queued: the write goes ahead, and a sender that gave up resends and gets the same id.</summary>
    public Task<(Guid IngestionId, bool Duplicate)> AcceptAsync(
        string channel, SourceEnvelope? source, string bodyHash, string payload, CancellationToken ct) =>
        writes.SubmitAsync(new ReceiptToWrite(Guid.CreateVersion7(), channel, source, bodyHash, payload) { TraceParent = CdpTelemetry.CurrentTraceParent });

    static async Task<IReadOnlyList<(Guid IngestionId, bool Duplicate)>> WriteAsync(NpgsqlDataSource db, IReadOnlyList<ReceiptToWrite> rows)
    {
        await using var conn = await db.OpenConnectionAsync();
        return await WriteReceiptsAsync(conn, null, rows, Topics.DataIngestion, cleansed: false, CancellationToken.None);
    }

    /// <summary>
    /// The one receipt writer of the webhooks and the bulk imports: the rows' receipts in one statement, in the order
    /// given (so the first of two equal records keeps the receipt), a resend (same channel + source id + version, or same
    /// body) writing nothing; with <paramref name="queueTopic"/>, each new 'queued' receipt's message (key channel +
    /// source id or body hash) in the same statement; <paramref name="cleansed"/> marks 'queued' receipts cleansed now. Answers, per row in order, the receipt that stands for it: its own,
    /// or for a duplicate the first one (one more statement, only when there are duplicates).
    /// </summary>
    public static async Task<(Guid IngestionId, bool Duplicate)[]> WriteReceiptsAsync(
        NpgsqlConnection conn, NpgsqlTransaction? tx, IReadOnlyList<ReceiptToWrite> rows, string? queueTopic, bool cleansed, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var inserted = new HashSet<Guid>();
        // The messages follow the receipts in arrival order (n), so versions of one source record stay in order.
        await using (var accept = new NpgsqlCommand("""
            with incoming as (
                select * from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $8::text[], $9::text[], $10::text[])
                    with ordinality as t(ingestion_id, channel, source_id, source_version, body_hash, payload, traceparent, status, errors, n)),
            receipt as (
                insert into ingestion_receipt (ingestion_id, channel, source_id, source_version, body_hash, payload, status, errors, cleansed_at, processed_at)
                select ingestion_id, channel, source_id, source_version, body_hash, payload, status, coalesce(errors::jsonb, '[]'),
                       case when status = 'queued' and $11 then now() end, case when status = 'rejected' then now() end
                from incoming order by n
                on conflict do nothing
                returning ingestion_id),
            queued as (
                insert into topic_message (topic, message_key, payload, traceparent)
                select $7, i.channel || ':' || coalesce(i.source_id, i.body_hash),
                       json_build_object('ingestionId', i.ingestion_id, 'channel', i.channel), i.traceparent
                from receipt r join incoming i using (ingestion_id)
                where $7 is not null and i.status = 'queued' order by i.n)
            select ingestion_id from receipt
            """, conn, tx))
        {
            accept.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = [.. rows.Select(r => r.IngestionId)] });
            accept.Parameters.Add(Texts(rows.Select(r => r.Channel)));
            accept.Parameters.Add(Texts(rows.Select(r => r.Source?.SourceId)));
            accept.Parameters.Add(Texts(rows.Select(r => r.Source?.SourceVersion)));
            accept.Parameters.Add(Texts(rows.Select(r => r.BodyHash)));
            accept.Parameters.Add(Texts(rows.Select(r => r.Payload)));
            accept.Parameters.Add(new NpgsqlParameter { Value = (object?)queueTopic ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
            accept.Parameters.Add(Texts(rows.Select(r => r.TraceParent)));
            accept.Parameters.Add(Texts(rows.Select(r => r.Status)));
            accept.Parameters.Add(Texts(rows.Select(r => r.Errors)));
            accept.Parameters.Add(new NpgsqlParameter<bool> { TypedValue = cleansed });
            await using var reader = await accept.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) inserted.Add(reader.GetGuid(0));
        }

        var answers = rows.Select(r => (r.IngestionId, Duplicate: !inserted.Contains(r.IngestionId))).ToArray();
        var duplicates = Enumerable.Range(0, rows.Count).Where(i => answers[i].Duplicate).ToList();
        if (duplicates.Count == 0) return answers;

        // ON CONFLICT waited for any competing insert to commit, so the first receipt is visible now.
        await using var find = new NpgsqlCommand("""
            select (select f.ingestion_id
                    from (select ingestion_id, received_at from ingestion_receipt where channel = t.c and body_hash = t.h
                          union all
                          select ingestion_id, received_at from ingestion_receipt where channel = t.c and source_id = t.s and source_version = t.v) f
                    order by f.received_at, f.ingestion_id limit 1)
            from unnest($1::text[], $2::text[], $3::text[], $4::text[]) with ordinality as t(c, h, s, v, n)
            order by t.n
            """, conn, tx);
        find.Parameters.Add(Texts(duplicates.Select(i => rows[i].Channel)));
        find.Parameters.Add(Texts(duplicates.Select(i => rows[i].BodyHash)));
        find.Parameters.Add(Texts(duplicates.Select(i => rows[i].Source?.SourceId)));
        find.Parameters.Add(Texts(duplicates.Select(i => rows[i].Source?.SourceVersion)));
        await using (var reader = await find.ExecuteReaderAsync(ct))
            for (var d = 0; await reader.ReadAsync(ct); d++)
                answers[duplicates[d]] = (reader.GetGuid(0), true);
        return answers;
    }
}
