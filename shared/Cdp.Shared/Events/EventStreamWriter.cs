using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Cdp.Shared.Customers;
using Cdp.Shared.Messaging;
using Cdp.Shared.Privacy;
using Microsoft.Extensions.Logging;

namespace Cdp.Shared.Events;

/// <summary>
/// Writes a batch of event-stream messages into ClickHouse as one JSONEachRow INSERT, creating the table first when
/// needed. Repeats are harmless: the table is a ReplacingMergeTree keyed by event id and queries count distinct ids.
/// Both hosts' event-stream consumers end here (locally WriteEventsToClickHouse, on Azure the Kafka trigger). After an
/// insert the cached views of the customers the events name are deleted: their behaviour counts have changed.
/// user_id is stored as its keyed hash (<see cref="SubjectHash.UserId"/>): producers publish it hashed, and a row still
/// carrying a raw id (queued before hashing began) is hashed here; rows a table holds from before are re-keyed once
/// when the schema is ensured (<see cref="HashLegacyUserIdsAsync"/>).
/// </summary>
public sealed partial class EventStreamWriter(
    ClickHouseHttp clickHouse, CustomerViewCache views, SubjectHash hash, ILogger<EventStreamWriter> logger) : ITopicBatchHandler
{
    const int LegacyBatch = 1000;

    volatile bool schemaReady;

    public string Topic => Topics.EventStream;

    public string EventsTable => clickHouse.EventsTable;

    /// <summary>Creates the table if it is not known to exist; false (logged) when ClickHouse cannot be reached yet.</summary>
    public async Task<bool> TryEnsureSchemaAsync(CancellationToken ct)
    {
        if (schemaReady) return true;
        try
        {
            await EnsureSchemaAsync(ct);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            logger.LogWarning(e, "ClickHouse table {Table} could not be created yet; will retry before the next insert", clickHouse.EventsTable);
        }
        return schemaReady;
    }

    public Task HandleBatchAsync(IReadOnlyList<TopicMessage> batch, CancellationToken ct) =>
        WriteAsync(batch.Select(m => m.Payload), ct);

    /// <summary>
    /// Inserts the rows of <paramref name="payloads"/>: each is one row, or an array of rows (one accepted request,
    /// <see cref="AcceptEvents.PublishBatchAsync"/>; its user ids were hashed when it was published).
    /// </summary>
    public async Task WriteAsync(IEnumerable<string> payloads, CancellationToken ct)
    {
        // The body is the arrays' rows as they are: ClickHouse's JSONEachRow takes rows separated by commas as well as
        // newlines, so an array's text minus its brackets goes in unparsed. Only the customers' ids are looked for.
        var body = new ArrayBufferWriter<byte>(1 << 16);
        var customers = new HashSet<CustomerRef>();
        var any = false;
        foreach (var payload in payloads)
        {
            var text = payload.AsSpan().Trim();
            if (text.StartsWith('['))
            {
                var inner = text[1..text.LastIndexOf(']')].Trim();
                if (inner.IsEmpty) continue;
                Append(body, inner);
                NamedCustomers(inner, customers);
                any = true;
            }
            else
            {
                var row = HashUserId(payload);
                Append(body, row);
                customers.UnionWith(NamedCustomers(row));
                any = true;
            }
        }
        if (!schemaReady) await EnsureSchemaAsync(ct);
        if (any) await clickHouse.InsertJsonEachRowAsync(clickHouse.EventsTable, body.WrittenMemory, ct);
        await views.InvalidateAsync(customers);
    }

    static void Append(ArrayBufferWriter<byte> body, ReadOnlySpan<char> rows)
    {
        var span = body.GetSpan(Encoding.UTF8.GetMaxByteCount(rows.Length) + 1);
        var n = Encoding.UTF8.GetBytes(rows, span);
        span[n] = (byte)'\n';
        body.Advance(n + 1);
    }

    static readonly (string Column, string Kind)[] IdColumns =
        [("\"account_id\"", CustomerRef.AccountKind), ("\"contact_id\"", CustomerRef.ContactKind), ("\"lead_id\"", CustomerRef.LeadKind)];

    /// <summary>
    /// The customers the rows of an array name, found by their columns' names in its text (as we or Postgres wrote it:
    /// <c>"account_id":"…"</c> or <c>"account_id": "…"</c>); the zero id names nobody. No other value holds such a
    /// quoted name: properties are one string, so their quotes are escaped.
    /// </summary>
    static void NamedCustomers(ReadOnlySpan<char> rows, HashSet<CustomerRef> into)
    {
        foreach (var (column, kind) in IdColumns)
        {
            var rest = rows;
            for (var at = rest.IndexOf(column, StringComparison.Ordinal); at >= 0; at = rest.IndexOf(column, StringComparison.Ordinal))
            {
                rest = rest[(at + column.Length)..];
                var value = rest.TrimStart().TrimStart(':').TrimStart();
                if (value.Length >= 38 && value[0] == '"' && Guid.TryParseExact(value.Slice(1, 36), "D", out var id) && id != Guid.Empty)
                    into.Add(new CustomerRef(kind, id));
            }
        }
    }

    async Task EnsureSchemaAsync(CancellationToken ct)
    {
        await clickHouse.EnsureSchemaAsync(ct);
        await HashLegacyUserIdsAsync(ct);
        schemaReady = true;
    }

    [GeneratedRegex("\"user_id\":\"u_[0-9a-f]{32}\"", RegexOptions.CultureInvariant)]
    private static partial Regex HashedUserId();

    /// <summary>The row with its user_id hashed, unless it already is.</summary>
    string HashUserId(string row)
    {
        if (HashedUserId().IsMatch(row)) return row;
        var node = JsonNode.Parse(row)!.AsObject();
        if (node["user_id"]?.GetValue<string>() is not { } raw || SubjectHash.IsUserHash(raw)) return row;
        node["user_id"] = hash.UserId(raw);
        return node.ToJsonString();
    }

    /// <summary>
    /// Rows written before user ids were hashed, once per database (a mark in <c>cdp_schema_mark</c> says it is done):
    /// each batch of raw ids is inserted again under its hash and the raw rows deleted (user_id is part of the sort key,
    /// which ClickHouse cannot update in place). The delete is a mutation; the next batch waits for it, so no raw id is
    /// re-inserted twice. Rows an older writer still sends during a rolling deploy are hashed by <see cref="HashUserId"/>.
    /// </summary>
    internal async Task<int> HashLegacyUserIdsAsync(CancellationToken ct)
    {
        const string Mark = "user_id_hashed";
        var marks = $"{clickHouse.Database}.cdp_schema_mark";
        await clickHouse.ExecuteAsync($"CREATE TABLE IF NOT EXISTS {marks} (name String, at DateTime) ENGINE = TinyLog", ct);
        if ((await clickHouse.QueryLinesAsync($"SELECT name FROM {marks} WHERE name = '{Mark}' FORMAT JSONEachRow", ct)).Count > 0) return 0;
        var table = clickHouse.EventsTable;
        var total = 0;
        while (true)
        {
            var raws = (await clickHouse.QueryLinesAsync(
                    $"SELECT DISTINCT user_id FROM {table} WHERE NOT match(user_id, '^u_[0-9a-f]{{32}}$') LIMIT {LegacyBatch} FORMAT JSONEachRow", ct))
                .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("user_id").GetString()!).ToList();
            if (raws.Count == 0)
            {
                await clickHouse.ExecuteAsync($"INSERT INTO {marks} VALUES ('{Mark}', now())", ct);
                return total;
            }
            var from = string.Join(",", raws.Select(Quote));
            var to = string.Join(",", raws.Select(r => Quote(hash.UserId(r))));
            await clickHouse.ExecuteAsync($"""
                INSERT INTO {table} SELECT event_id, transform(user_id, [{from}], [{to}], user_id), account_id, contact_id, lead_id,
                       event_type, occurred_at, properties, ingested_at
                FROM {table} WHERE user_id IN ({from})
                """, ct);
            // The ordered copies too; the daily counts stay (every event id lives on under the hashed id).
            await clickHouse.DeleteEventsAsync($"user_id IN ({from})", TimeSpan.FromMinutes(5), ct, recount: false);
            total += raws.Count;
            logger.LogInformation("Re-keyed the events of {Count} user id(s) stored before hashing in {Table}", raws.Count, table);
        }
    }

    /// <summary>A ClickHouse string literal.</summary>
    static string Quote(string value)
    {
        var s = new StringBuilder("'");
        foreach (var c in value)
        {
            if (c is '\\' or '\'') s.Append('\\');
            s.Append(c);
        }
        return s.Append('\'').ToString();
    }

    /// <summary>The customers an event row names (empty ids are Guid.Empty in the row).</summary>
    static IEnumerable<CustomerRef> NamedCustomers(string row)
    {
        var ids = JsonSerializer.Deserialize<RowCustomers>(row);
        return ids is null ? [] : CustomerRef.Of(ids.AccountId, ids.ContactId, ids.LeadId);
    }

    sealed record RowCustomers(
        [property: JsonPropertyName("account_id")] Guid? AccountId,
        [property: JsonPropertyName("contact_id")] Guid? ContactId,
        [property: JsonPropertyName("lead_id")] Guid? LeadId);
}
