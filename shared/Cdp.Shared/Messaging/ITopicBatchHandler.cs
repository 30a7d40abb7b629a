namespace Cdp.Shared.Messaging;

/// <summary>
/// Handles a topic's messages a batch at a time, for sinks that want few large writes (ClickHouse) and need no order
/// per key. Delivery is at least once: a batch that throws comes again whole, so the write must tolerate repeats.
/// </summary>
public interface ITopicBatchHandler
{
    string Topic { get; }

    Task HandleBatchAsync(IReadOnlyList<TopicMessage> batch, CancellationToken ct);
}
