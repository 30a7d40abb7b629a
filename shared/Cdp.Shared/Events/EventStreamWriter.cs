using System.Text.Json;
using System.Text.Json.Serialization;
using Cdp.Shared.Customers;
using Cdp.Shared.Messaging;
using Microsoft.Extensions.Logging;

namespace Cdp.Shared.Events;

/// <summary>
/// Writes a batch of event-stream messages into ClickHouse as one JSONEachRow INSERT, creating the table first when
/// needed. Repeats are harmless: the table is a ReplacingMergeTree keyed by event id and queries count distinct ids.
/// Both hosts' event-stream consumers end here (locally WriteEventsToClickHouse, on Azure the Kafka trigger). After an
/// insert the cached views of the customers the events name are deleted: their behaviour counts have changed.
/// </summary>
public sealed class EventStreamWriter(ClickHouseHttp clickHouse, CustomerViewCache views, ILogger<EventStreamWriter> logger) : ITopicBatchHandler
{
    volatile bool schemaReady;

    public string Topic => Topics.EventStream;

    public string EventsTable => clickHouse.EventsTable;

    /// <summary>Creates the table if it is not known to exist; false (logged) when ClickHouse cannot be reached yet.</summary>
    public async Task<bool> TryEnsureSchemaAsync(CancellationToken ct)
    {
        if (schemaReady) return true;
        try
        {
            await clickHouse.EnsureSchemaAsync(ct);
            schemaReady = true;
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            logger.LogWarning(e, "ClickHouse table {Table} could not be created yet; will retry before the next insert", clickHouse.EventsTable);
        }
        return schemaReady;
    }

    public Task HandleBatchAsync(IReadOnlyList<TopicMessage> batch, CancellationToken ct) =>
        WriteAsync(batch.Select(m => m.Payload), ct);

    public async Task WriteAsync(IEnumerable<string> payloads, CancellationToken ct)
    {
        var rows = payloads as IReadOnlyCollection<string> ?? payloads.ToList();
        if (!schemaReady)
        {
            await clickHouse.EnsureSchemaAsync(ct);
            schemaReady = true;
        }
        await clickHouse.InsertJsonEachRowAsync(clickHouse.EventsTable, rows, ct);
        await views.InvalidateAsync(rows.SelectMany(NamedCustomers).Distinct());
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
