using System.Text.Json;
using Cdp.Shared.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cdp.Shared.Events;

public enum BehaviourSubject { Account, Contact, Lead }

public sealed record BehaviourEventView(string EventId, string UserId, string Type, DateTimeOffset OccurredAt, JsonElement Properties);

/// <summary>
/// Behaviour reads for the customer 360. ClickHouse being slow or down must not fail the view: each query has a
/// timeout and answers null on failure, which the caller reports as partial. Rows may be unmerged repeats, so
/// counts use uniqExact(event_id) and the latest list groups by event id.
/// </summary>
public sealed class BehaviourQueries
{
    const int MaxBatch = 200;

    readonly ClickHouseHttp clickHouse;
    readonly IOptions<EventsOptions> options;
    readonly ILogger<BehaviourQueries> logger;
    readonly MicroBatcher<CountRequest, IReadOnlyDictionary<string, long>?> counts;

    public BehaviourQueries(ClickHouseHttp clickHouse, IOptions<EventsOptions> options, ILogger<BehaviourQueries> logger)
    {
        this.clickHouse = clickHouse;
        this.options = options;
        this.logger = logger;
        counts = new(CountBatchAsync, MaxBatch, options.Value.CountQueriesInFlight);
    }

    /// <summary>Count queries sent to ClickHouse so far (each answers one batch of callers).</summary>
    internal long CountQueries => counts.Batches;

    /// <summary>
    /// Distinct events of the customer by type over the last <paramref name="days"/> UTC days (today and the days before
    /// it), from the daily pre-aggregate (<see cref="ClickHouseHttp.DailyTable"/>): a merge of at most that many rows per type.
    /// Each ClickHouse query costs far more than the rows it reads here (measured: 16 customers in one query take about
    /// twice one customer's time), so concurrent callers share queries (<see cref="MicroBatcher{TItem, TResult}"/>): at most
    /// <see cref="EventsOptions.CountQueriesInFlight"/> run at once, and the callers that arrive meanwhile go together
    /// in the next one. A lone caller is sent at once. Null when ClickHouse failed or did not answer within
    /// <see cref="EventsOptions.QueryTimeout"/> (waiting included).
    /// </summary>
    public async Task<IReadOnlyDictionary<string, long>?> CountsByTypeAsync(
        BehaviourSubject subject, Guid id, int days = 30, CancellationToken ct = default)
    {
        try
        {
            return await counts.SubmitAsync(new CountRequest(Subject(subject), id, Math.Clamp(days, 1, 3650))).WaitAsync(options.Value.QueryTimeout, ct);
        }
        catch (TimeoutException)
        {
            logger.LogWarning("Behaviour counts from ClickHouse took longer than {Timeout}; answering without them", options.Value.QueryTimeout);
            return null;
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            // An answer that could not be read fails its whole batch; like an outage, it must not fail the view.
            logger.LogWarning(e, "Behaviour counts from ClickHouse could not be read; answering without them");
            return null;
        }
    }

    /// <summary>
    /// One query per distinct window in the batch (callers all ask for the view's 30 days, so one in practice), keyed by
    /// (subject, subject_id) so the table's sort key narrows every customer to its own rows. A failed query answers
    /// null to each of its callers (logged once for the batch).
    /// </summary>
    internal async Task<IReadOnlyList<IReadOnlyDictionary<string, long>?>> CountBatchAsync(IReadOnlyList<CountRequest> batch)
    {
        var answers = new Dictionary<(string, Guid, int), Dictionary<string, long>?>();
        foreach (var sameDays in batch.GroupBy(r => r.Days))
        {
            var keys = sameDays.Select(r => (r.Subject, r.Id)).Distinct().ToList();
            var sql = $"""
                SELECT subject, subject_id, event_type, uniqExactMerge(events) AS n FROM {clickHouse.Database}.{ClickHouseHttp.DailyTable}
                WHERE (subject, subject_id) IN ({string.Join(",", keys.Select(k => $"('{k.Subject}', toUUID('{k.Id}'))"))})
                  AND day > toDate(now(), 'UTC') - {sameDays.Key}
                GROUP BY subject, subject_id, event_type ORDER BY event_type FORMAT JSONEachRow
                """;
            var lines = await RunAsync(sql, CancellationToken.None, singleThread: true);
            foreach (var (subject, id) in keys) answers[(subject, id, sameDays.Key)] = lines is null ? null : new(StringComparer.Ordinal);
            foreach (var line in lines ?? [])
            {
                using var row = JsonDocument.Parse(line);
                var r = row.RootElement;
                if (answers.TryGetValue((r.GetProperty("subject").GetString()!, r.GetProperty("subject_id").GetGuid(), sameDays.Key), out var byType))
                    byType![r.GetProperty("event_type").GetString()!] = r.GetProperty("n").GetInt64();
            }
        }
        return [.. batch.Select(r => (IReadOnlyDictionary<string, long>?)answers[(r.Subject, r.Id, r.Days)])];
    }

    internal sealed record CountRequest(string Subject, Guid Id, int Days);

    public async Task<IReadOnlyList<BehaviourEventView>?> LatestAsync(
        BehaviourSubject subject, Guid id, int limit = 20, CancellationToken ct = default)
    {
        var sql = $"""
            SELECT event_id, argMax(user_id, ingested_at) AS uid, argMax(event_type, ingested_at) AS type,
                   toUnixTimestamp(argMax(occurred_at, ingested_at)) AS ts, argMax(properties, ingested_at) AS props
            FROM {clickHouse.EventsTable}
            WHERE {Column(subject)} = toUUID('{id}')
            GROUP BY event_id ORDER BY ts DESC, event_id LIMIT {Math.Clamp(limit, 1, 1000)} FORMAT JSONEachRow
            """;
        var lines = await RunAsync(sql, ct);
        if (lines is null) return null;
        var events = new List<BehaviourEventView>(lines.Count);
        foreach (var line in lines)
        {
            using var row = JsonDocument.Parse(line);
            var r = row.RootElement;
            using var props = JsonDocument.Parse(r.GetProperty("props").GetString() ?? "{}");
            events.Add(new BehaviourEventView(
                r.GetProperty("event_id").GetString()!, r.GetProperty("uid").GetString()!, r.GetProperty("type").GetString()!,
                DateTimeOffset.FromUnixTimeSeconds(r.GetProperty("ts").GetInt64()), props.RootElement.Clone()));
        }
        return events;
    }

    static string Subject(BehaviourSubject subject) => subject switch
    {
        BehaviourSubject.Account => "account",
        BehaviourSubject.Contact => "contact",
        BehaviourSubject.Lead => "lead",
        _ => throw new ArgumentOutOfRangeException(nameof(subject)),
    };

    static string Column(BehaviourSubject subject) => subject switch
    {
        BehaviourSubject.Account => "account_id",
        BehaviourSubject.Contact => "contact_id",
        BehaviourSubject.Lead => "lead_id",
        _ => throw new ArgumentOutOfRangeException(nameof(subject)),
    };

    async Task<List<string>?> RunAsync(string sql, CancellationToken ct, bool singleThread = false)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(options.Value.QueryTimeout);
        try
        {
            return await clickHouse.QueryLinesAsync(sql, timeout.Token, options.Value.QueryTimeout, singleThread);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            logger.LogWarning(e, "Behaviour query against ClickHouse failed or timed out; answering without it");
            return null;
        }
    }
}
