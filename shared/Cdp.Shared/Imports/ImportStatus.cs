using System.Text.Json;
using Cdp.Shared.Cleansing;
using Npgsql;

namespace Cdp.Shared.Imports;

/// <summary>A rejected record of an import: its line and why.</summary>
public sealed record ImportRejection(int Line, IReadOnlyList<FieldError> Errors);

/// <summary>
/// GET /api/imports/{id}: <c>state</c> is staging (the body is streaming in), running (chunks queued or being
/// processed), done (every chunk finished) or failed (staging was refused, or a chunk gave up after its retries);
/// <c>done</c> counts the records of finished chunks, split into processed, review, rejected, duplicate and failed;
/// <c>ratePerSecond</c> is done records per second since staging ended, <c>etaSeconds</c> the rest at that rate.
/// </summary>
public sealed record ImportStatus(
    Guid ImportId, string Channel, string Format, string State, int Total, int Done, int Processed, int Review, int Rejected,
    int Duplicate, int Failed, double? RatePerSecond, double? EtaSeconds, DateTimeOffset CreatedAt, DateTimeOffset? StagedAt,
    DateTimeOffset? FinishedAt, string? Error, IReadOnlyList<ImportRejection> Rejections);

public sealed class ImportStatusQuery(NpgsqlDataSource db, TimeProvider clock)
{
    /// <summary>Rejections listed in the answer (the first by line); the counts cover all of them.</summary>
    public const int RejectionsShown = 20;

    public async Task<ImportStatus?> GetAsync(Guid importId, CancellationToken ct)
    {
        await using var batch = db.CreateBatch();
        batch.BatchCommands.Add(new("""
            select j.channel, j.format, j.state, j.total, j.chunks, j.error, j.created_at, j.staged_at,
                   count(*) filter (where c.state <> 'queued'), count(*) filter (where c.state = 'failed'),
                   coalesce(sum(c.rows) filter (where c.state <> 'queued'), 0), coalesce(sum(c.processed), 0), coalesce(sum(c.review), 0),
                   coalesce(sum(c.rejected), 0), coalesce(sum(c.duplicate), 0), coalesce(sum(c.failed), 0), max(c.done_at)
            from import_job j left join import_chunk c using (import_id)
            where j.import_id = $1
            group by j.import_id
            """) { Parameters = { new() { Value = importId } } });
        batch.BatchCommands.Add(new($"""
            select line_no, errors::text from import_row
            where import_id = $1 and status = 'rejected' order by line_no limit {RejectionsShown}
            """) { Parameters = { new() { Value = importId } } });
        await using var reader = await batch.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct)) return null;
        var state = reader.GetString(2);
        var total = reader.GetInt32(3);
        var chunks = reader.GetInt32(4);
        var finishedChunks = (int)reader.GetInt64(8);
        var failedChunks = (int)reader.GetInt64(9);
        var done = (int)reader.GetInt64(10);
        var stagedAt = reader.IsDBNull(7) ? (DateTimeOffset?)null : reader.GetFieldValue<DateTimeOffset>(7);
        var lastDone = reader.IsDBNull(16) ? (DateTimeOffset?)null : reader.GetFieldValue<DateTimeOffset>(16);
        DateTimeOffset? finishedAt = null;
        if (state == "running" && finishedChunks == chunks)
        {
            state = failedChunks > 0 ? "failed" : "done";
            finishedAt = lastDone;
        }
        double? rate = null, eta = null;
        if (stagedAt is { } from && done > 0)
        {
            var seconds = ((finishedAt ?? clock.GetUtcNow()) - from).TotalSeconds;
            rate = Math.Round(done / Math.Max(seconds, 0.001), 1);
            eta = state == "running" ? Math.Round((total - done) / rate.Value, 1) : 0;
        }
        var status = new ImportStatus(importId, reader.GetString(0), reader.GetString(1), state, total, done,
            (int)reader.GetInt64(11), (int)reader.GetInt64(12), (int)reader.GetInt64(13), (int)reader.GetInt64(14), (int)reader.GetInt64(15),
            rate, eta, reader.GetFieldValue<DateTimeOffset>(6), stagedAt, finishedAt, reader.IsDBNull(5) ? null : reader.GetString(5), []);
        await reader.NextResultAsync(ct);
        var rejections = new List<ImportRejection>();
        while (await reader.ReadAsync(ct))
            rejections.Add(new(reader.GetInt32(0), reader.IsDBNull(1) ? [] : JsonSerializer.Deserialize<List<FieldError>>(reader.GetString(1), CdpJson.Options) ?? []));
        return status with { Rejections = rejections };
    }
}
