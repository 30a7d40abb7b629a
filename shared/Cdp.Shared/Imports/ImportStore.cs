using Cdp.Shared.Access;
using Cdp.Shared.Api;
using Cdp.Shared.Messaging;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Cdp.Shared.Imports;

/// <summary>
/// The message the bulk-import topic carries: one staged chunk of an import, to prepare (read, cleanse, receipts; the
/// stage staging queues, <see cref="Stage"/> null) or to resolve (queued by its preparation).
/// </summary>
public sealed record ImportChunkQueued(Guid ImportId, int Chunk, string? Stage = null)
{
    public const string Resolve = "resolve";
}

/// <summary>
/// Stages an import: the job row (audited) first, so the import is visible as 'staging' while its body streams in; then
/// the body, record by record, COPY'd into import_row in one transaction that also writes the chunks and queues one
/// bulk-import message per chunk. Either the whole body is staged and queued or nothing is (the job is then 'failed'
/// with the reason, and the caller gets the 4xx).
/// </summary>
public sealed class ImportStore(NpgsqlDataSource db, IOptions<ImportOptions> options, ILogger<ImportStore> logger)
{
    public ImportOptions Options => options.Value;

    public async Task<(Guid ImportId, int Total)> StageAsync(
        string channel, ImportFormat format, Stream body, AuditActor actor, CancellationToken ct)
    {
        var settings = options.Value;
        var importId = Guid.CreateVersion7();
        await using (var conn = await db.OpenConnectionAsync(ct))
        await using (var tx = await conn.BeginTransactionAsync(ct))
        {
            await using (var job = new NpgsqlCommand(
                "insert into import_job (import_id, channel, format, actor) values ($1, $2, $3, $4)", conn, tx))
            {
                job.Parameters.Add(new() { Value = importId });
                job.Parameters.Add(new() { Value = channel });
                job.Parameters.Add(new() { Value = FormatName(format) });
                job.Parameters.Add(new() { Value = actor.Actor });
                await job.ExecuteNonQueryAsync(ct);
            }
            await AuditLog.WriteAsync(conn, tx, actor.Did("import.start", "import", importId.ToString(), new { channel, format = FormatName(format) }));
            await tx.CommitAsync(ct);
        }

        try
        {
            var total = await CopyAsync(importId, format, body, settings, ct);
            logger.LogInformation("Import {ImportId} ({Channel}, {Format}) staged {Total} records", importId, channel, FormatName(format), total);
            return (importId, total);
        }
        catch (Exception e)
        {
            var reason = e is ApiProblemException p ? p.Problem.Detail ?? p.Problem.Title : "Staging failed: " + e.GetType().Name;
            try
            {
                await using var fail = db.CreateCommand("update import_job set state = 'failed', error = $2 where import_id = $1");
                fail.Parameters.Add(new() { Value = importId });
                fail.Parameters.Add(new() { Value = reason });
                await fail.ExecuteNonQueryAsync(CancellationToken.None);
            }
            catch (Exception inner)
            {
                logger.LogWarning(inner, "Import {ImportId}: could not mark the refused import failed", importId);
            }
            throw;
        }
    }

    async Task<int> CopyAsync(Guid importId, ImportFormat format, Stream body, ImportOptions settings, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var total = 0;
        await using (var copy = await conn.BeginBinaryImportAsync(
            "copy import_row (import_id, line_no, chunk, payload, read_error) from stdin (format binary)", ct))
        {
            await foreach (var line in ImportReader.ReadAsync(new CappedStream(body, settings.MaxBodyBytes), format, settings.MaxRecordChars, ct))
            {
                await copy.StartRowAsync(ct);
                await copy.WriteAsync(importId, NpgsqlDbType.Uuid, ct);
                await copy.WriteAsync(line.LineNo, NpgsqlDbType.Integer, ct);
                await copy.WriteAsync(total / settings.ChunkRows, NpgsqlDbType.Integer, ct);
                if (line.Payload is null) await copy.WriteNullAsync(ct); else await copy.WriteAsync(line.Payload, NpgsqlDbType.Text, ct);
                if (line.ReadError is null) await copy.WriteNullAsync(ct); else await copy.WriteAsync(line.ReadError, NpgsqlDbType.Text, ct);
                total++;
            }
            if (total == 0) throw new ApiProblemException(ApiProblem.BadRequest("The body holds no records."));
            await copy.CompleteAsync(ct);
        }

        var chunks = (total + settings.ChunkRows - 1) / settings.ChunkRows;
        await using var queue = new NpgsqlBatch(conn, tx)
        {
            BatchCommands =
            {
                new("""
                    insert into import_chunk (import_id, chunk, rows)
                    select $1, c, least($3, $2 - c * $3) from generate_series(0, $4 - 1) c
                    """)
                { Parameters = { new() { Value = importId }, new() { Value = total }, new() { Value = settings.ChunkRows }, new() { Value = chunks } } },
                // One lane keeps the file's order; several spread the chunks over keys the consumers run side by side.
                new("""
                    insert into topic_message (topic, message_key, payload)
                    select $1, 'import:' || $2::text || case when $4 > 1 then ':' || (c % $4)::text else '' end,
                           json_build_object('importId', $2, 'chunk', c)
                    from generate_series(0, $3 - 1) c order by c
                    """)
                { Parameters = { new() { Value = Topics.BulkImport }, new() { Value = importId }, new() { Value = chunks }, new() { Value = settings.Lanes } } },
                new("update import_job set state = 'running', total = $2, chunks = $3, staged_at = now() where import_id = $1")
                { Parameters = { new() { Value = importId }, new() { Value = total }, new() { Value = chunks } } },
            },
        };
        await queue.ExecuteNonQueryAsync(ct);
        await tx.CommitAsync(ct);
        return total;
    }

    public static string FormatName(ImportFormat format) => format == ImportFormat.Csv ? "csv" : "ndjson";

    /// <summary>A request body that refuses (413) as soon as it passes the import cap, without holding what it read.</summary>
    sealed class CappedStream(Stream inner, long limit) : Stream
    {
        long read;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => read; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Count(await inner.ReadAsync(buffer, cancellationToken));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        int Count(int n)
        {
            read += n;
            if (read > limit) throw new ApiProblemException(ApiProblem.TooLarge(limit));
            return n;
        }
    }
}
