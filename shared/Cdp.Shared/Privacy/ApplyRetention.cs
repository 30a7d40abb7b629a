using System.Globalization;
using System.Text.Json;
using Cdp.Shared.Events;
using Dapper;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Cdp.Shared.Privacy;

public sealed record RetentionResult(int PayloadsDropped, int ReviewsDeleted, int EventPartitionsDropped, bool EventRowsDeleted);

/// <summary>
/// What housekeeping does for <see cref="RetentionOptions"/> (both hosts' housekeeping timers run it):
/// <list type="bullet">
/// <item>a settled channel payload past RawPayloadDays is set to null; its body_hash, source id/version and outcome stay,
/// so a resend of the same body is still answered as a duplicate of the first receipt;</item>
/// <item>a resolved identity review past ResolvedReviewDays (since its resolution) is deleted;</item>
/// <item>behaviour events past EventDays are deleted from ClickHouse. ClickHouse 18.16 has no table TTL (MODIFY TTL came in
/// 19.6), so this is the TTL's effect by hand: monthly partitions wholly past the cutoff are dropped (metadata only) and the
/// rows of the boundary month are deleted by one mutation. The cutoff moves once a day (midnight UTC), so the mutation
/// runs at most daily however often housekeeping runs.</item>
/// </list>
/// </summary>
public sealed class ApplyRetention(
    NpgsqlDataSource db, ClickHouseHttp clickHouse, IOptions<RetentionOptions> options, TimeProvider clock, ILogger<ApplyRetention> logger)
{
    const int Batch = 5000;

    public async Task<RetentionResult> RunAsync(CancellationToken ct)
    {
        var o = options.Value;
        var now = clock.GetUtcNow();
        var payloads = await DropPayloadsAsync(now.AddDays(-o.RawPayloadDays), ct);
        var reviews = await DeleteResolvedReviewsAsync(now.AddDays(-o.ResolvedReviewDays), ct);
        var (partitions, rows) = await ExpireEventsAsync(new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero).AddDays(-o.EventDays), ct);
        if (payloads + reviews + partitions > 0 || rows)
            logger.LogInformation("Retention: {Payloads} payload(s) reduced to hash and outcome, {Reviews} resolved review(s) deleted, "
                + "{Partitions} event partition(s) dropped, boundary events deleted: {Rows}", payloads, reviews, partitions, rows);
        return new RetentionResult(payloads, reviews, partitions, rows);
    }

    /// <summary>In batches, so a first run over years of receipts holds no long lock. A queued receipt still needs its payload.</summary>
    async Task<int> DropPayloadsAsync(DateTimeOffset cutoff, CancellationToken ct)
    {
        var total = 0;
        await using var conn = await db.OpenConnectionAsync(ct);
        int n;
        do
        {
            n = await conn.ExecuteAsync(new CommandDefinition("""
                update ingestion_receipt set payload = null, payload_dropped_at = now()
                 where ingestion_id in (select ingestion_id from ingestion_receipt
                                         where payload is not null and received_at < @cutoff and status <> 'queued' limit @Batch)
                """, new { cutoff, Batch }, cancellationToken: ct));
            total += n;
        } while (n == Batch);
        return total;
    }

    async Task<int> DeleteResolvedReviewsAsync(DateTimeOffset cutoff, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        return await conn.ExecuteAsync(new CommandDefinition(
            "delete from identity_review where status = 'resolved' and resolved_at < @cutoff", new { cutoff }, cancellationToken: ct));
    }

    /// <summary>ClickHouse being down or the table not created yet skips this run (logged); Postgres retention still happened.</summary>
    async Task<(int Partitions, bool Rows)> ExpireEventsAsync(DateTimeOffset cutoff, CancellationToken ct)
    {
        try
        {
            if (!await clickHouse.EventsTableExistsAsync(ct)) return (0, false);
            var db = clickHouse.Database;

            var cutoffUnix = cutoff.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
            var old = await clickHouse.QueryLinesAsync($"""
                SELECT partition_id FROM system.parts
                WHERE database = '{db}' AND table = '{ClickHouseHttp.Table}' AND active
                GROUP BY partition_id HAVING toUnixTimestamp(max(max_time)) < {cutoffUnix} FORMAT JSONEachRow
                """, ct);
            // The ordered copies (ClickHouseHttp.OrderedCopies) and the daily counts (ClickHouseHttp.DailyTable) share
            // the partitions and hold nothing the events table does not: the same partitions go, and the same boundary
            // rows (the cutoff is a midnight, so a day is wholly before it or not).
            var copies = new List<string>();
            foreach (var copy in ClickHouseHttp.DerivedTables)
                if (await clickHouse.TableExistsAsync(copy, ct)) copies.Add(copy);
            foreach (var line in old)
            {
                var partition = JsonDocument.Parse(line).RootElement.GetProperty("partition_id").GetString()!;
                if (!partition.All(char.IsAsciiDigit)) continue;   // toYYYYMM ids only; anything else is not ours to drop
                await clickHouse.ExecuteAsync($"ALTER TABLE {clickHouse.EventsTable} DROP PARTITION ID '{partition}'", ct);
                foreach (var copy in copies) await clickHouse.ExecuteAsync($"ALTER TABLE {db}.{copy} DROP PARTITION ID '{partition}'", ct);
            }

            var count = await clickHouse.QueryLinesAsync(
                $"SELECT count() AS n FROM {clickHouse.EventsTable} WHERE occurred_at < toDateTime({cutoffUnix}) FORMAT JSONEachRow", ct);
            var rows = count.Count > 0 && JsonDocument.Parse(count[0]).RootElement.GetProperty("n").GetInt64() > 0;
            if (rows)
            {
                await clickHouse.ExecuteAsync($"ALTER TABLE {clickHouse.EventsTable} DELETE WHERE occurred_at < toDateTime({cutoffUnix})", ct);
                foreach (var copy in copies)
                    await clickHouse.ExecuteAsync($"ALTER TABLE {db}.{copy} DELETE WHERE {(copy == ClickHouseHttp.DailyTable ? $"day < toDate(toDateTime({cutoffUnix}), 'UTC')" : $"occurred_at < toDateTime({cutoffUnix})")}", ct);
            }
            return (old.Count, rows);
        }
        catch (Exception e) when (e is ClickHouseException or HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            logger.LogWarning(e, "Retention: ClickHouse events could not be expired this run; next run tries again");
            return (0, false);
        }
    }
}
