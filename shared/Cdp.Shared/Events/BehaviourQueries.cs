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
    public async Task<IReadOnlyDictionary<string, long>?> CountsByTypeAsync(
        BehaviourSubject subject, Guid id, int days = 30, CancellationToken ct = default)
    {
        var sql = $"""
            SELECT event_type, uniqExact(event_id) AS n FROM {clickHouse.EventsTableFor(Column(subject))}
            WHERE {Column(subject)} = toUUID('{id}') AND occurred_at >= now() - INTERVAL {Math.Clamp(days, 1, 3650)} DAY
            GROUP BY event_type ORDER BY event_type FORMAT JSONEachRow
            """;
        var lines = await RunAsync(sql, ct);
        if (lines is null) return null;
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var line in lines)
        {
            using var row = JsonDocument.Parse(line);
            counts[row.RootElement.GetProperty("event_type").GetString()!] = row.RootElement.GetProperty("n").GetInt64();
        }
        return counts;
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
