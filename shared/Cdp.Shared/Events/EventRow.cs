using System.Globalization;
using System.Text.Json.Serialization;

namespace Cdp.Shared.Events;

/// <summary>
/// The event-stream message, shaped as a row of the ClickHouse table so the writer can send payloads unchanged as
/// JSONEachRow. Absent ids are the zero GUID (ClickHouse 18.16 keeps Nullable out of sort keys).
/// </summary>
public sealed record EventRow(
    [property: JsonPropertyName("event_id")] string EventId,
    [property: JsonPropertyName("user_id")] string UserId,
    [property: JsonPropertyName("account_id")] Guid AccountId,
    [property: JsonPropertyName("contact_id")] Guid ContactId,
    [property: JsonPropertyName("lead_id")] Guid LeadId,
    [property: JsonPropertyName("event_type")] string EventType,
    [property: JsonPropertyName("occurred_at")] string OccurredAt,
    [property: JsonPropertyName("properties")] string Properties,
    [property: JsonPropertyName("ingested_at")] string IngestedAt)
{
    /// <summary>ClickHouse DateTime text; the columns are DateTime('UTC') so no server zone applies.</summary>
    public static string ClickHouseTime(DateTimeOffset t) =>
        t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    public static EventRow From(ValidEvent e, DateTimeOffset ingestedAt) => new(
        e.EventId, e.UserId, e.AccountId ?? Guid.Empty, e.ContactId ?? Guid.Empty, e.LeadId ?? Guid.Empty, e.Type,
        ClickHouseTime(e.OccurredAt), e.PropertiesJson, ClickHouseTime(ingestedAt));
}
