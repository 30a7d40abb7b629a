using System.Text.Json;

namespace Cdp.Shared.Messaging;

/// <summary>
/// One delivery of a message. <see cref="Attempts"/> counts the earlier failed attempts (0 on first delivery).
/// </summary>
public sealed record TopicMessage(long MessageId, string Topic, string Key, string Payload, int Attempts, DateTimeOffset CreatedAt)
{
    /// <summary>The publisher's W3C trace context (topic_message.traceparent, or the Kafka header), when it was traced.</summary>
    public string? TraceParent { get; init; }

    public T Read<T>() =>
        JsonSerializer.Deserialize<T>(Payload, CdpJson.Options)
        ?? throw new JsonException($"Message {MessageId} on {Topic} has a null payload.");
}
