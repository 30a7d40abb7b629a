using System.Collections.Concurrent;
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
using static Cdp.Shared.Storage.SqlArrays;

namespace Cdp.Shared.Imports;

/// <summary>
/// bulk-import consumer: one staged chunk -> the webhook pipeline's outcomes, in bulk. The rows are read
/// (<see cref="ChannelPayloads.ReadEnvelope"/>, <see cref="ChannelPayloads.ToRecord"/>) and cleansed
/// (<see cref="RecordCleanser"/>) on every core; what cannot be read is rejected with its reasons; the rest get their
/// ingestion receipts from the webhooks' own writer (<see cref="IngestionStore.WriteReceiptsAsync"/>: one statement,
/// duplicates by channel + source id + version or body hash), and
/// the chunk's rows say so in the same transaction. The accepted records then go to
/// <see cref="IdentityResolver.ResolveBatchAsync"/>, and the outcomes and the chunk's counters commit together.
/// A redelivery (a crash, a failure, a lost lease) finds each row where the last commit left it: rows with a receipt
/// are resolved again (the resolver answers a receipt it settled already with its first outcome), a finished chunk is
/// skipped, so nothing is counted or written twice.
/// </summary>
public sealed class ImportChunks(NpgsqlDataSource db, IdentityResolver resolver, CustomerViewCache views, ILogger<ImportChunks> logger) : ITopicHandler
{
    public string Topic => Topics.BulkImport;

    // Prepared chunks' clean records, so their resolution (the next round, on this host as a rule) need not read and
    // cleanse them again; a miss (another host, a restart) reads them from the rows. Bounded: cleared when it grows.
    readonly ConcurrentDictionary<(Guid ImportId, int Chunk), Dictionary<int, CleanRecord>> prepared = new();
    const int MaxPrepared = 64;

    public Task HandleAsync(TopicMessage message, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(message);
        var queued = message.Read<ImportChunkQueued>();
        return queued.Stage == ImportChunkQueued.Resolve ? ResolveAsync(queued, ct) : PrepareAsync(queued, message.Key, ct);
    }

    /// <summary>
    /// Reading, cleansing and the receipts of a chunk's staged rows, committed with the rows' statuses and the chunk's
    /// resolution message (key: this message's key + ":resolve"). The consumer runs a round's keys side by side, so
    /// chunk n+1 is prepared while chunk n is resolved, and each key keeps the file's order.
    /// </summary>
    async Task PrepareAsync(ImportChunkQueued queued, string key, CancellationToken ct)
    {
        using var span = CdpTelemetry.Start("import chunk prepare");
        var chunk = await LoadAsync(queued, "staged", ct);
        if (chunk is null) return;
        var resolve = new ImportChunkQueued(queued.ImportId, queued.Chunk, ImportChunkQueued.Resolve);
        if (chunk.Rows.Count == 0)
        {
            // Prepared before (a redelivery, or a message from before the stages split): make sure it is resolved. A
            // second resolution message is harmless: it finds the chunk done.
            await using var conn = await db.OpenConnectionAsync(ct);
            await TopicPublisher.PublishAsync(conn, null, Topic, key + ":resolve", resolve, ct);
            return;
        }

        var rows = chunk.Rows;
        var read = new RowResult[rows.Count];
        var phase = Stopwatch.GetTimestamp();
        Parallel.For(0, rows.Count, i => read[i] = Read(chunk.Channel, chunk.ReceivedAt, rows[i]));
        var readMs = Stopwatch.GetElapsedTime(phase).TotalMilliseconds;
        phase = Stopwatch.GetTimestamp();

        var fresh = Enumerable.Range(0, rows.Count).Where(i => read[i].Kind is RowKind.Accepted or RowKind.Rejected).ToList();
        var ids = new Guid?[rows.Count];
        var statuses = new string[rows.Count];
        for (var i = 0; i < rows.Count; i++) statuses[i] = read[i].Kind == RowKind.Accepted ? "accepted" : "rejected";

        await using (var conn = await db.OpenConnectionAsync(ct))
        await using (var tx = await conn.BeginTransactionAsync(ct))
        {
            if (fresh.Count > 0)
            {
                var written = await IngestionStore.WriteReceiptsAsync(conn, tx, [.. fresh.Select(i => new ReceiptToWrite(
                    read[i].IngestionId, chunk.Channel, read[i].Source, read[i].BodyHash!, read[i].Payload!)
                {
                    Status = read[i].Kind == RowKind.Accepted ? "queued" : "rejected",
                    Errors = JsonSerializer.Serialize(read[i].Errors, CdpJson.Options),
                })], queueTopic: null, cleansed: true, ct);
                for (var f = 0; f < fresh.Count; f++)
                {
                    ids[fresh[f]] = written[f].IngestionId;
                    if (written[f].Duplicate) statuses[fresh[f]] = "duplicate";
                }
                CdpTelemetry.Ingested.Add(written.Count(w => !w.Duplicate), new KeyValuePair<string, object?>("channel", chunk.Channel));
            }
            await UpdateRowsAsync(conn, tx, queued.ImportId, rows, statuses, ids, read, queued.Chunk,
                [readMs, Stopwatch.GetElapsedTime(phase).TotalMilliseconds], ct);
            await TopicPublisher.PublishAsync(conn, tx, Topic, key + ":resolve", resolve, ct);
            await tx.CommitAsync(ct);
        }

        if (prepared.Count >= MaxPrepared) prepared.Clear();
        prepared[(queued.ImportId, queued.Chunk)] = Enumerable.Range(0, rows.Count).Where(i => statuses[i] == "accepted")
            .ToDictionary(i => rows[i].LineNo, i => read[i].Clean!);
        span?.SetTag("cdp.import.rows", rows.Count);
    }

    /// <summary>
    /// Resolution of a prepared chunk's accepted rows (<see cref="IdentityResolver.ResolveBatchAsync"/>), then their
    /// outcomes and the chunk's counters in one transaction. A redelivery resolves the rows left 'accepted' again: the
    /// resolver answers a receipt it settled already with its first outcome.
    /// </summary>
    async Task ResolveAsync(ImportChunkQueued queued, CancellationToken ct)
    {
        using var span = CdpTelemetry.Start("import chunk resolve");
        var chunk = await LoadAsync(queued, "accepted", ct);
        prepared.TryRemove((queued.ImportId, queued.Chunk), out var cached);
        if (chunk is null) return;

        var started = Stopwatch.GetTimestamp();
        var rows = chunk.Rows;
        var clean = new CleanRecord?[rows.Count];
        if (cached is not null && rows.All(r => cached.ContainsKey(r.LineNo)))
            for (var i = 0; i < rows.Count; i++) clean[i] = cached[rows[i].LineNo];
        else
            Parallel.For(0, rows.Count, i => clean[i] = Read(chunk.Channel, chunk.ReceivedAt, rows[i]).Clean);
        var accepted = Enumerable.Range(0, rows.Count).Where(i => clean[i] is not null && rows[i].IngestionId is not null).ToList();
        var statuses = new string[accepted.Count];
        if (accepted.Count > 0)
        {
            var outcomes = await resolver.ResolveBatchAsync([.. accepted.Select(i => (rows[i].IngestionId!.Value, clean[i]!))], ct);
            await views.InvalidateAsync(outcomes.SelectMany(o => o.ChangedCustomers()));
            for (var a = 0; a < accepted.Count; a++) statuses[a] = outcomes[a].Status;
        }

        var resolveMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        await FinishAsync(queued, [.. accepted.Select(i => rows[i].LineNo)], statuses, resolveMs, ct);
        span?.SetTag("cdp.import.rows", rows.Count);
        logger.LogDebug("Import {ImportId} chunk {Chunk}: {Rows} rows resolved in {Took:N0} ms", queued.ImportId, queued.Chunk, rows.Count, resolveMs);
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

    /// <summary>
    /// The chunk's rows in <paramref name="status"/> ('staged': to prepare; 'accepted': to resolve), none when every row
    /// is past it; null when the chunk is finished (a redelivery) or gone.
    /// </summary>
    async Task<Chunk?> LoadAsync(ImportChunkQueued queued, string status, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("""
            select j.channel, j.created_at, r.line_no, r.payload, r.read_error, r.ingestion_id
            from import_chunk c join import_job j using (import_id)
            left join import_row r on r.import_id = c.import_id and r.chunk = c.chunk and r.status = $3
            where c.import_id = $1 and c.chunk = $2 and c.state = 'queued'
            order by r.line_no
            """);
        cmd.Parameters.Add(new() { Value = queued.ImportId });
        cmd.Parameters.Add(new() { Value = queued.Chunk });
        cmd.Parameters.Add(new() { Value = status });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        Chunk? chunk = null;
        while (await reader.ReadAsync(ct))
        {
            chunk ??= new Chunk(reader.GetString(0), reader.GetFieldValue<DateTimeOffset>(1), []);
            if (reader.IsDBNull(2)) continue;
            chunk.Rows.Add(new StagedRow(reader.GetInt32(2), reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetString(4), reader.IsDBNull(5) ? null : reader.GetGuid(5)));
        }
        return chunk;
    }

    static async Task UpdateRowsAsync(
        NpgsqlConnection conn, NpgsqlTransaction tx, Guid importId, List<StagedRow> rows, string[] statuses, Guid?[] ids, RowResult[] read,
        int chunk, double[] timings, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            with timed as (update import_chunk set read_ms = $6[1], receipt_ms = $6[2] where import_id = $1 and chunk = $7)
            update import_row r set status = u.status, ingestion_id = u.ingestion_id::uuid, errors = u.errors::jsonb
            from unnest($2::int[], $3::text[], $4::text[], $5::text[]) as u(line_no, status, ingestion_id, errors)
            where r.import_id = $1 and r.line_no = u.line_no
            """, conn, tx);
        cmd.Parameters.Add(new() { Value = importId });
        cmd.Parameters.Add(new() { Value = rows.Select(r => r.LineNo).ToArray() });
        cmd.Parameters.Add(Texts(statuses));
        cmd.Parameters.Add(Texts(ids.Select(id => id?.ToString())));
        cmd.Parameters.Add(Texts(read.Select(r => r.Errors.Count == 0 ? null : JsonSerializer.Serialize(r.Errors, CdpJson.Options))));
        cmd.Parameters.Add(new() { Value = timings });
        cmd.Parameters.Add(new() { Value = chunk });
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>The resolved rows' outcomes and the chunk's counters, in one transaction; a finished chunk is left as it is.</summary>
    /// <param name="resolveMs">Milliseconds of the resolution; the chunk's whole time adds its preparation's (read, receipts).</param>
    async Task FinishAsync(ImportChunkQueued queued, int[] lines, string[] outcomes, double resolveMs, CancellationToken ct)
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
            update import_chunk c set state = 'done', done_at = now(), resolve_ms = $3,
                   took_ms = coalesce(c.read_ms, 0) + coalesce(c.receipt_ms, 0) + $3,
            """ + SettleCounts) { Parameters = { new() { Value = queued.ImportId }, new() { Value = queued.Chunk }, new() { Value = resolveMs } } });
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
}
