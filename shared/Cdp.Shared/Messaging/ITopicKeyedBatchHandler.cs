namespace Cdp.Shared.Messaging;

/// <summary>
/// A handler that takes a round's claimed messages together (at most one per key, each its key's head, so order per
/// key still holds) and settles each on its own: the answer says, per message in the order given, null for done or
/// the error that message met (retried or dead-lettered alone). For stages whose cost is round trips and commits
/// per message (identity resolution, cleansing). <see cref="ITopicHandler.HandleAsync"/> still serves a lone
/// message and the brokers' one-at-a-time delivery.
/// </summary>
public interface ITopicKeyedBatchHandler : ITopicHandler
{
    Task<IReadOnlyList<Exception?>> HandleBatchAsync(IReadOnlyList<TopicMessage> batch, CancellationToken ct);
}
