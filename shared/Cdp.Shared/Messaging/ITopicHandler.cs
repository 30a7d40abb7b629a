namespace Cdp.Shared.Messaging;

/// <summary>
/// Handles the messages of one topic. Delivery is at least once: a message is redelivered after a failure,
/// after a crash before its deletion committed, or when its lease was lost, so handlers must be idempotent
/// (e.g. upsert on the message's natural key, or remember <see cref="TopicMessage.MessageId"/> in the same
/// transaction as the effect). Messages of one key arrive one at a time in publish order; different keys run
/// concurrently. Throwing schedules a retry with backoff; after MaxAttempts the message is dead-lettered.
/// </summary>
public interface ITopicHandler
{
    string Topic { get; }

    Task HandleAsync(TopicMessage message, CancellationToken ct);

    /// <summary>
    /// Called once a message is parked as dead, so the handler can record the give-up where users look
    /// (e.g. an ingestion receipt turning 'failed'). Best effort: an error here is logged, the message stays dead.
    /// </summary>
    Task OnDeadLetteredAsync(TopicMessage message, string error, CancellationToken ct) => Task.CompletedTask;
}

/// <summary>
/// A handler that rebuilds its key's state from the database instead of applying the message (e.g. a full summary
/// recompute): one successful handling covers every message of the key that was already queued when it was claimed,
/// so the local consumer deletes those with it instead of handling each. Messages queued after the claim still run.
/// </summary>
public interface ICoalescingTopicHandler : ITopicHandler;
