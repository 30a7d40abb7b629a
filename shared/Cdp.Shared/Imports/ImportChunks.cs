using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Cdp.Shared.Api;
using Cdp.Shared.Cleansing;
using Cdp.Shared.Customers;
using Cdp.Shared.Identity;
using Cdp.Shared.Ingestion;
using Cdp.Shared.Messaging;
using Cdp.Shared.Telemetry;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace Cdp.Shared.Imports;

/// <summary>
/// bulk-import consumer: one staged chunk -> the webhook pipeline's outcomes, in bulk. The rows are read
/// (<see cref="ChannelPayloads.ReadEnvelope"/>, <see cref="ChannelPayloads.ToRecord"/>) and cleansed
/// (<see cref="RecordCleanser"/>) on every core; what cannot be read is rejected with its reasons; the rest get their
/// ingestion receipts in one statement (duplicates by channel + source id + version or body hash, as webhooks), and
/// the chunk's rows say so in the same transaction. The accepted records then go to
/// <see cref="IdentityResolver.ResolveBatchAsync"/>, and the outcomes and the chunk's counters commit together.
/// A redelivery (a crash, a failure, a lost lease) finds each row where the last commit left it: rows with a receipt
/// are resolved again (the resolver answers a receipt it settled already with its first outcome), a finished chunk is
/// skipped, so nothing is counted or written twice.
/// </summary>
public sealed class ImportChunks(NpgsqlDataSource db, IdentityResolver resolver, CustomerViewCache views, ILogger<ImportChunks> logger) : ITopicHandler
{
    public string Topic => Topics.BulkImport;

    public async Task HandleAsync(TopicMessage message, CancellationToken ct)
    {
        var queued = message.Read<ImportChunkQueued>();
        var started = Stopwatch.GetTimestamp();
        using var span = CdpTelemetry.Start("import chunk");
        var chunk = await LoadAsync(queued, ct);
        if (chunk is null) return;

        var rows = chunk.Rows;
        var read = new RowResult[rows.Count];
        var phase = Stopwatch.GetTimestamp();
        Parallel.For(0, rows.Count, i => read[i] = Read(chunk.Channel, chunk.ReceivedAt, rows[i]));
        var readMs = Stopwatch.GetElapsedTime(phase).TotalMilliseconds;
        phase = Stopwatch.GetTimestamp();

        var fresh = Enumerable.Range(0, rows.Count).Where(i => read[i].Kind is RowKind.Accepted or RowKind.Rejected && rows[i].IngestionId is null).ToList();
        var ids = new Guid?[rows.Count];
        var statuses = new string[rows.Count];
        for (var i = 0; i < rows.Count; i++)
        {
            ids[i] = rows[i].IngestionId;
            statuses[i] = read[i].Kind switch
            {
                RowKind.Unreadable => "rejected",
                RowKind.Rejected => "rejected",
                _ => "accepted",
            };
        }

        await using (var conn = await db.OpenConnectionAsync(ct))
        await using (var tx = await conn.BeginTransactionAsync(ct))
        {
            if (fresh.Count > 0)
            {
                var inserted = await InsertReceiptsAsync(conn, tx, chunk.Channel, fresh, read, ct);
                var duplicates = fresh.Where(i => !inserted.Contains(read[i].IngestionId)).ToList();
                foreach (var i in fresh) ids[i] = read[i].IngestionId;
                if (duplicates.Count > 0)
                {
                    var firsts = await FindFirstReceiptsAsync(conn, tx, chunk.Channel, duplicates, read, ct);
                    for (var d = 0; d < duplicates.Count; d++)
                    {
                        ids[duplicates[d]] = firsts[d];
                        statuses[duplicates[d]] = "duplicate";
                    }
                }
                CdpTelemetry.Ingested.Add(inserted.Count, new KeyValuePair<string, object?>("channel", chunk.Channel));
            }
            await UpdateRowsAsync(conn, tx, queued.ImportId, rows, statuses, ids, read, ct);
            await tx.CommitAsync(ct);
        }

        var receiptMs = Stopwatch.GetElapsedTime(phase).TotalMilliseconds;
        phase = Stopwatch.GetTimestamp();
        var accepted = Enumerable.Range(0, rows.Count).Where(i => statuses[i] == "accepted").ToList();
        if (accepted.Count > 0)
        {
            var outcomes = await resolver.ResolveBatchAsync([.. accepted.Select(i => (ids[i]!.Value, read[i].Clean!))], ct);
            await views.InvalidateAsync(outcomes.SelectMany(o => o.ChangedCustomers()));
            for (var a = 0; a < accepted.Count; a++) statuses[accepted[a]] = outcomes[a].Status;
        }

        var resolveMs = Stopwatch.GetElapsedTime(phase).TotalMilliseconds;
        var took = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        await FinishAsync(queued, [.. accepted.Select(i => rows[i].LineNo)], [.. accepted.Select(i => statuses[i])], [took, readMs, receiptMs, resolveMs], ct);
        span?.SetTag("cdp.import.rows", rows.Count);
        logger.LogDebug("Import {ImportId} chunk {Chunk}: {Rows} rows in {Took:N0} ms", queued.ImportId, queued.Chunk, rows.Count, took);
    }

    public async Task OnDeadLetteredAsync(TopicMessage message, string error, CancellationToken ct)
    {
        var queued = message.Read<ImportChunkQueued>();
        CdpTelemetry.Failed.Add(1, new KeyValuePair<string, object?>("stage", "import"));
        var errors = JsonSerializer.Serialize(new[] { new FieldError("import", $"Gave up after retries: {error}") }, CdpJson.Options);
        await using var batch = db.CreateBatch();
        batch.BatchCommands.Add(new("""
            update ingestion_receipt r set status = 'failed', errors = $3::jsonb, processed_at = now()
            from import_row i
            where i.import_id = $1 and i.chunk = $2 and i.status = 'accepted' and r.ingestion_id = i.ingestion_id and r.status = 'queued'
            """) { Parameters = { new() { Value = queued.ImportId }, new() { Value = queued.Chunk }, new() { Value = errors } } });
        batch.BatchCommands.Add(new("""
            update import_row set status = 'failed', errors = $3::jsonb
            where import_id = $1 and chunk = $2 and status in ('staged', 'accepted')
            """) { Parameters = { new() { Value = queued.ImportId }, new() { Value = queued.Chunk }, new() { Value = errors } } });
        batch.BatchCommands.Add(new("""
            update import_chunk c set state = 'failed', error = $3, done_at = now(),
            """ + SettleCounts) { Parameters = { new() { Value = queued.ImportId }, new() { Value = queued.Chunk }, new() { Value = error } } });
        await batch.ExecuteNonQueryAsync(ct);
    }

    // ---- reading and cleansing (CPU, every core) ----------------------------------------------------------------

    enum RowKind
    {
        /// <summary>Not even a record (unreadable line, broken envelope): rejected on the import row, no receipt (a webhook would get a 4xx).</summary>
        Unreadable,
        /// <summary>A record cleansing refused: a receipt 'rejected' with the reasons, as the webhook pipeline leaves it.</summary>
        Rejected,
        /// <summary>A clean record for identity resolution.</summary>
        Accepted,
    }

    sealed record RowResult(RowKind Kind, IReadOnlyList<FieldError> Errors)
    {
        public Guid IngestionId { get; init; } = Guid.CreateVersion7();
        public CleanRecord? Clean { get; init; }
        public SourceEnvelope? Source { get; init; }
        public string? BodyHash { get; init; }
        public string? Payload { get; init; }
    }

    static RowResult Read(string channel, DateTimeOffset receivedAt, StagedRow row)
    {
        if (row.Payload is null) return new(RowKind.Unreadable, [new FieldError("line", row.ReadError ?? "Unreadable.")]);
        var bytes = Encoding.UTF8.GetBytes(row.Payload);
        SourceEnvelope? envelope = null;
        CustomerRecord record;
        try
        {
            // A resumed row was read before (it has its receipt): only its record is needed again.
            if (row.IngestionId is null) (envelope, record) = ChannelPayloads.ReadRecord(channel, bytes, receivedAt);
            else record = ChannelPayloads.ToRecord(channel, row.Payload);
        }
        catch (ApiProblemException p)
        {
            return new(RowKind.Unreadable, p.Problem.Errors is { Count: > 0 } errors
                ? [.. errors.SelectMany(e => e.Value.Select(message => new FieldError(e.Key, message)))]
                : [new FieldError("body", p.Problem.Detail ?? p.Problem.Title)]);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return new(RowKind.Unreadable, [new FieldError("body", $"Unreadable {channel} payload: {e.Message}")]);
        }
        var result = RecordCleanser.Cleanse(record);
        return new(result.Clean is null ? RowKind.Rejected : RowKind.Accepted, result.Errors)
        {
            Clean = result.Clean,
            Source = envelope,
            BodyHash = Convert.ToHexStringLower(SHA256.HashData(bytes)),
            Payload = row.Payload,
        };
    }

    // ---- the database ---------------------------------------------------------------------------------------------

    sealed record StagedRow(int LineNo, string? Payload, string? ReadError, Guid? IngestionId);

    sealed record Chunk(string Channel, DateTimeOffset ReceivedAt, List<StagedRow> Rows);

    /// <summary>The chunk's rows still to do, or null when the chunk is finished (a redelivery) or gone.</summary>
    async Task<Chunk?> LoadAsync(ImportChunkQueued queued, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            select j.channel, j.created_at, r.line_no, r.payload, r.read_error, r.ingestion_id
            from import_chunk c join import_job j using (import_id)
            join import_row r on r.import_id = c.import_id and r.chunk = c.chunk and r.status in ('staged', 'accepted')
            where c.import_id = $1 and c.chunk = $2 and c.state = 'queued'
            order by r.line_no
            """);
        cmd.Parameters.Add(new() { Value = queued.ImportId });
        cmd.Parameters.Add(new() { Value = queued.Chunk });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        Chunk? chunk = null;
        while (await reader.ReadAsync(ct))
        {
            chunk ??= new Chunk(reader.GetString(0), reader.GetFieldValue<DateTimeOffset>(1), []);
            chunk.Rows.Add(new StagedRow(reader.GetInt32(2), reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetString(4), reader.IsDBNull(5) ? null : reader.GetGuid(5)));
        }
        if (chunk is not null) return chunk;
        await reader.DisposeAsync();
        // No row left to do but the chunk still open: a crash after the rows settled (all rejected or duplicate) and
        // before the chunk was finished. Finish it now, so the counters come right.
        await using var open = db.CreateCommand("select 1 from import_chunk where import_id = $1 and chunk = $2 and state = 'queued'");
        open.Parameters.Add(new() { Value = queued.ImportId });
        open.Parameters.Add(new() { Value = queued.Chunk });
        if (await open.ExecuteScalarAsync(ct) is not null) await FinishAsync(queued, [], [], [0, 0, 0, 0], ct);
        return null;
    }

    static async Task<HashSet<Guid>> InsertReceiptsAsync(
        NpgsqlConnection conn, NpgsqlTransaction tx, string channel, List<int> fresh, RowResult[] read, CancellationToken ct)
    {
        // In file order, so the first of two equal records in one chunk keeps the receipt.
        await using var cmd = new NpgsqlCommand("""
            insert into ingestion_receipt (ingestion_id, channel, source_id, source_version, body_hash, payload, status, errors, cleansed_at, processed_at)
            select t.ingestion_id, $1, t.source_id, t.source_version, t.body_hash, t.payload, t.status, t.errors::jsonb,
                   case when t.status = 'queued' then now() end, case when t.status = 'rejected' then now() end
            from unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
                 with ordinality as t(ingestion_id, source_id, source_version, body_hash, payload, status, errors, n)
            order by t.n
            on conflict do nothing
            returning ingestion_id
            """, conn, tx);
        cmd.Parameters.Add(new() { Value = channel });
        cmd.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = [.. fresh.Select(i => read[i].IngestionId)] });
        cmd.Parameters.Add(Texts(fresh.Select(i => read[i].Source?.SourceId)));
        cmd.Parameters.Add(Texts(fresh.Select(i => read[i].Source?.SourceVersion)));
        cmd.Parameters.Add(Texts(fresh.Select(i => read[i].BodyHash)));
        cmd.Parameters.Add(Texts(fresh.Select(i => read[i].Payload)));
        cmd.Parameters.Add(Texts(fresh.Select(i => read[i].Kind == RowKind.Accepted ? "queued" : "rejected")));
        cmd.Parameters.Add(Texts(fresh.Select(i => JsonSerializer.Serialize(read[i].Errors, CdpJson.Options))));
        var inserted = new HashSet<Guid>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) inserted.Add(reader.GetGuid(0));
        return inserted;
    }

    /// <summary>The first receipt of each duplicate, as <see cref="IngestionStore"/> finds it for a resent webhook.</summary>
    static async Task<Guid?[]> FindFirstReceiptsAsync(
        NpgsqlConnection conn, NpgsqlTransaction tx, string channel, List<int> duplicates, RowResult[] read, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            select (select f.ingestion_id
                    from (select ingestion_id, received_at from ingestion_receipt where channel = $1 and body_hash = t.h
                          union all
                          select ingestion_id, received_at from ingestion_receipt where channel = $1 and source_id = t.s and source_version = t.v) f
                    order by f.received_at, f.ingestion_id limit 1)
            from unnest($2::text[], $3::text[], $4::text[]) with ordinality as t(h, s, v, n)
            order by t.n
            """, conn, tx);
        cmd.Parameters.Add(new() { Value = channel });
        cmd.Parameters.Add(Texts(duplicates.Select(i => read[i].BodyHash)));
        cmd.Parameters.Add(Texts(duplicates.Select(i => read[i].Source?.SourceId)));
        cmd.Parameters.Add(Texts(duplicates.Select(i => read[i].Source?.SourceVersion)));
        var firsts = new Guid?[duplicates.Count];
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        for (var d = 0; await reader.ReadAsync(ct); d++) firsts[d] = reader.IsDBNull(0) ? null : reader.GetGuid(0);
        return firsts;
    }

    static async Task UpdateRowsAsync(
        NpgsqlConnection conn, NpgsqlTransaction tx, Guid importId, List<StagedRow> rows, string[] statuses, Guid?[] ids, RowResult[] read,
        CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            update import_row r set status = u.status, ingestion_id = u.ingestion_id::uuid, errors = u.errors::jsonb
            from unnest($2::int[], $3::text[], $4::text[], $5::text[]) as u(line_no, status, ingestion_id, errors)
            where r.import_id = $1 and r.line_no = u.line_no
            """, conn, tx);
        cmd.Parameters.Add(new() { Value = importId });
        cmd.Parameters.Add(new() { Value = rows.Select(r => r.LineNo).ToArray() });
        cmd.Parameters.Add(Texts(statuses));
        cmd.Parameters.Add(Texts(ids.Select(id => id?.ToString())));
        cmd.Parameters.Add(Texts(read.Select(r => r.Errors.Count == 0 ? null : JsonSerializer.Serialize(r.Errors, CdpJson.Options))));
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>The resolved rows' outcomes and the chunk's counters, in one transaction; a finished chunk is left as it is.</summary>
    /// <param name="timings">Milliseconds: the whole handling, reading and cleansing, receipts, resolution.</param>
    async Task FinishAsync(ImportChunkQueued queued, int[] lines, string[] outcomes, double[] timings, CancellationToken ct)
    {
        await using var batch = db.CreateBatch();
        if (lines.Length > 0)
        {
            batch.BatchCommands.Add(new("""
                update import_row r set status = u.status
                from unnest($2::int[], $3::text[]) as u(line_no, status)
                where r.import_id = $1 and r.line_no = u.line_no and r.status = 'accepted'
                """) { Parameters = { new() { Value = queued.ImportId }, new() { Value = lines }, new() { Value = outcomes } } });
        }
        batch.BatchCommands.Add(new("""
            update import_chunk c set state = 'done', done_at = now(), took_ms = $3[1], read_ms = $3[2], receipt_ms = $3[3], resolve_ms = $3[4],
            """ + SettleCounts) { Parameters = { new() { Value = queued.ImportId }, new() { Value = queued.Chunk }, new() { Value = timings } } });
        await batch.ExecuteNonQueryAsync(ct);
    }

    /// <summary>The rest of an update that closes an open chunk ($1 import, $2 chunk): its counters, counted from its rows.</summary>
    const string SettleCounts = """
               processed = s.processed, review = s.review, rejected = s.rejected, duplicate = s.duplicate, failed = s.failed
        from (select count(*) filter (where status = 'processed') as processed, count(*) filter (where status = 'review') as review,
                     count(*) filter (where status = 'rejected') as rejected, count(*) filter (where status = 'duplicate') as duplicate,
                     count(*) filter (where status = 'failed') as failed
              from import_row where import_id = $1 and chunk = $2) s
        where c.import_id = $1 and c.chunk = $2 and c.state = 'queued'
        """;

    static NpgsqlParameter Texts(IEnumerable<string?> values) =>
        new NpgsqlParameter<string?[]> { TypedValue = [.. values], NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text };
}
