using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
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

/// <summary>
/// The event-stream payload of one request, written once as UTF-8 JSON straight from the validated events (no row
/// objects, no reflection, no UTF-16 copy: Postgres gets these bytes): a JSON array of <see cref="EventRow"/>-shaped objects, the same text the serializer gives.
/// </summary>
public static class EventRows
{
    static readonly JsonEncodedText EventId = JsonEncodedText.Encode("event_id"), UserId = JsonEncodedText.Encode("user_id"),
        AccountId = JsonEncodedText.Encode("account_id"), ContactId = JsonEncodedText.Encode("contact_id"),
        LeadId = JsonEncodedText.Encode("lead_id"), EventType = JsonEncodedText.Encode("event_type"),
        OccurredAt = JsonEncodedText.Encode("occurred_at"), Properties = JsonEncodedText.Encode("properties"),
        IngestedAt = JsonEncodedText.Encode("ingested_at");

    /// <summary>The rows of <paramref name="events"/> (user ids as <paramref name="userHash"/> gives them) and the message key.</summary>
    public static (ReadOnlyMemory<byte> Payload, string Key) Write(IReadOnlyList<ValidEvent> events, Func<ValidEvent, string> userHash, DateTimeOffset ingestedAt)
    {
        Span<char> ingested = stackalloc char[19];
        Format(ingestedAt, ingested);
        var buffer = new ArrayBufferWriter<byte>(events.Count * 512);
        string? first = null;
        var oneUser = true;
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = CdpJson.Options.Encoder, SkipValidation = true }))
        {
            Span<char> occurred = stackalloc char[19];
            w.WriteStartArray();
            foreach (var e in events)
            {
                var user = userHash(e);
                if (first is null) first = user;
                else if (oneUser && user != first) oneUser = false;
                Format(e.OccurredAt, occurred);
                WriteRow(w, e.EventId, user, e.AccountId ?? Guid.Empty, e.ContactId ?? Guid.Empty, e.LeadId ?? Guid.Empty, e.Type,
                    occurred, e.PropertiesJson, ingested);
            }
            w.WriteEndArray();
        }
        return (buffer.WrittenMemory, Key(oneUser ? first : null));
    }

    /// <summary>Rows already built (tests, tools).</summary>
    public static (ReadOnlyMemory<byte> Payload, string Key) Write(IReadOnlyList<EventRow> rows)
    {
        var buffer = new ArrayBufferWriter<byte>(rows.Count * 512 + 2);
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = CdpJson.Options.Encoder, SkipValidation = true }))
        {
            w.WriteStartArray();
            foreach (var r in rows)
                WriteRow(w, r.EventId, r.UserId, r.AccountId, r.ContactId, r.LeadId, r.EventType, r.OccurredAt, r.Properties, r.IngestedAt);
            w.WriteEndArray();
        }
        var oneUser = rows.Count > 0 && rows.All(r => r.UserId == rows[0].UserId);
        return (buffer.WrittenMemory, Key(oneUser ? rows[0].UserId : null));
    }

    /// <summary>The user hash when one user sent them all, else a key of the batch's own.</summary>
    static string Key(string? user) => user ?? $"batch:{Guid.CreateVersion7():N}";

    static void WriteRow(Utf8JsonWriter w, string eventId, string userId, Guid account, Guid contact, Guid lead, string type,
        ReadOnlySpan<char> occurredAt, string properties, ReadOnlySpan<char> ingestedAt)
    {
        w.WriteStartObject();
        w.WriteString(EventId, eventId);
        w.WriteString(UserId, userId);
        w.WriteString(AccountId, account);
        w.WriteString(ContactId, contact);
        w.WriteString(LeadId, lead);
        w.WriteString(EventType, type);
        w.WriteString(OccurredAt, occurredAt);
        w.WriteString(Properties, properties);
        w.WriteString(IngestedAt, ingestedAt);
        w.WriteEndObject();
    }

    /// <summary><see cref="EventRow.ClickHouseTime"/> into 19 characters, without a string.</summary>
    static void Format(DateTimeOffset t, Span<char> into) =>
        t.UtcDateTime.TryFormat(into, out _, "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
}
