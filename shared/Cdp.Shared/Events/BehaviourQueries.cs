using System.Collections.Concurrent;
using System.Text.Json;
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
public sealed class BehaviourQueries(ClickHouseHttp clickHouse, IOptions<EventsOptions> options, ILogger<BehaviourQueries> logger)
{
    const int MaxBatch = 200;

    readonly ConcurrentQueue<PendingCount> pending = new();
    int drainers;

    /// <summary>
    /// Distinct events of the customer by type over the last <paramref name="days"/> UTC days (today and the days before
    /// it), from the daily pre-aggregate (<see cref="ClickHouseHttp.DailyTable"/>): a merge of at most that many rows per type.
    /// Each ClickHouse query costs far more than the rows it reads here, so concurrent callers share queries: at most
    /// <see cref="EventsOptions.CountQueriesInFlight"/> run at once, and the callers that arrive meanwhile go together
    /// in the next one (one <c>IN</c> list). A lone caller is sent at once. Null when ClickHouse failed or did not
    /// answer within <see cref="EventsOptions.QueryTimeout"/> (waiting included).
    /// </summary>
    public async Task<IReadOnlyDictionary<string, long>?> CountsByTypeAsync(
        BehaviourSubject subject, Guid id, int days = 30, CancellationToken ct = default)
    {
        var request = new PendingCount(Subject(subject), id, Math.Clamp(days, 1, 3650));
        pending.Enqueue(request);
        TryStartDrainer();
        try
        {
            return await request.Result.Task.WaitAsync(options.Value.QueryTimeout, ct);
        }
        catch (TimeoutException)
        {
            logger.LogWarning("Behaviour counts from ClickHouse took longer than {Timeout}; answering without them", options.Value.QueryTimeout);
            return null;
        }
    }

    void TryStartDrainer()
    {
        while (true)
        {
            var running = Volatile.Read(ref drainers);
            if (running >= options.Value.CountQueriesInFlight) return;   // a running one takes the request
            if (Interlocked.CompareExchange(ref drainers, running + 1, running) != running) continue;
            _ = Task.Run(DrainAsync);
            return;
        }
    }

    async Task DrainAsync()
    {
        try
        {
            while (true)
            {
                var batch = new List<PendingCount>();
                while (batch.Count < MaxBatch && pending.TryDequeue(out var next)) batch.Add(next);
                if (batch.Count == 0) break;
                foreach (var sameDays in batch.GroupBy(r => r.Days)) await CountBatchAsync(sameDays.Key, [.. sameDays]);
            }
        }
        finally
        {
            Interlocked.Decrement(ref drainers);
        }
        // A request queued after the last look, by a caller who saw every drainer busy, must not be left behind.
        if (!pending.IsEmpty) TryStartDrainer();
    }

    async Task CountBatchAsync(int days, List<PendingCount> batch)
    {
        var sql = $"""
            SELECT subject, subject_id, event_type, uniqExactMerge(events) AS n FROM {clickHouse.Database}.{ClickHouseHttp.DailyTable}
            WHERE subject_id IN ({string.Join(",", batch.Select(r => r.Id).Distinct().Select(id => $"toUUID('{id}')"))})
              AND day > toDate(now(), 'UTC') - {days}
            GROUP BY subject, subject_id, event_type ORDER BY event_type FORMAT JSONEachRow
            """;
        List<string>? lines;
        try
        {
            lines = await RunAsync(sql, CancellationToken.None);
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Behaviour counts from ClickHouse failed; answering without them");
            lines = null;
        }
        var counts = new Dictionary<(string, Guid), Dictionary<string, long>>();
        foreach (var r in batch) counts.TryAdd((r.Subject, r.Id), new Dictionary<string, long>(StringComparer.Ordinal));
        foreach (var line in lines ?? [])
        {
            using var row = JsonDocument.Parse(line);
            var r = row.RootElement;
            if (counts.TryGetValue((r.GetProperty("subject").GetString()!, r.GetProperty("subject_id").GetGuid()), out var byType))
                byType[r.GetProperty("event_type").GetString()!] = r.GetProperty("n").GetInt64();
        }
        foreach (var r in batch) r.Result.TrySetResult(lines is null ? null : counts[(r.Subject, r.Id)]);
    }

    sealed record PendingCount(string Subject, Guid Id, int Days)
    {
        public TaskCompletionSource<IReadOnlyDictionary<string, long>?> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

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

    async Task<List<string>?> RunAsync(string sql, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(options.Value.QueryTimeout);
        try
        {
            return await clickHouse.QueryLinesAsync(sql, timeout.Token, options.Value.QueryTimeout);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            logger.LogWarning(e, "Behaviour query against ClickHouse failed or timed out; answering without it");
            return null;
        }
    }
}
