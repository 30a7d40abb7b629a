using System.Globalization;
using System.Text;
using Cdp.Shared.Messaging;
using Microsoft.Azure.Functions.Worker;

namespace Cdp.Functions.Kafka;

/// <summary>Kafka records as the core's <see cref="TopicMessage"/>.</summary>
static class KafkaRecords
{
    public static IReadOnlyList<TopicMessage> ToMessages(string topic, KafkaRecord[] records) =>
        records.Select(r => new TopicMessage(
            MessageId(r), topic,
            r.Key is null ? "" : Encoding.UTF8.GetString(r.Key),
            r.Value is null ? "null" : Encoding.UTF8.GetString(r.Value),
            Attempts: 0,
            r.Timestamp is { } t ? DateTimeOffset.FromUnixTimeMilliseconds(t.UnixTimestampMs) : DateTimeOffset.UtcNow)
        {
            TraceParent = r.Headers?.FirstOrDefault(h => h.Key == KafkaOutboxSink.TraceParentHeader)?.GetValueAsString(),
        }).ToList();

    static long MessageId(KafkaRecord record) =>
        record.Headers?.FirstOrDefault(h => h.Key == KafkaOutboxSink.MessageIdHeader)?.GetValueAsString() is { } id
        && long.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed)
            ? parsed
            : record.Offset;
}
