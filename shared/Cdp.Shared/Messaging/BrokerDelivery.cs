using Cdp.Shared.Access;
using Cdp.Shared.Events;
using Cdp.Shared.Identity;
using Cdp.Shared.Ingestion;
using Cdp.Shared.Summaries;
using Cdp.Shared.Telemetry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Cdp.Shared.Messaging;

/// <summary>
/// Hands a batch a broker delivered (on Azure, a batched Kafka trigger) to a topic's <see cref="ITopicHandler"/> with
/// the same guarantees the Postgres consumer gives: a key's messages one at a time in order, keys side by side
/// (Topics:{topic}:MaxConcurrency), a failing message retried with backoff up to MaxAttempts and then parked as a dead
/// topic_message row (requeue it with <see cref="TopicAdmin.RequeueDeadAsync"/> and the relay sends it again) with the
/// handler's dead-letter hook called. Only when even parking fails does this throw, so the trigger's retry policy
/// redelivers the batch (handlers are idempotent).
/// </summary>
public sealed class BrokerDelivery(NpgsqlDataSource db, IOptionsMonitor<TopicConsumerOptions> topics, ILogger<BrokerDelivery> logger)
{
    public Task DeliverAsync(ITopicHandler handler, IReadOnlyList<TopicMessage> batch, CancellationToken ct)
    {
        var options = topics.Get(handler.Topic);
        options.Validate(handler.Topic);
        return Parallel.ForEachAsync(batch.GroupBy(m => m.Key),
            new ParallelOptions { MaxDegreeOfParallelism = options.MaxConcurrency, CancellationToken = ct },
            async (key, token) =>
            {
                foreach (var message in key) await HandleAsync(handler, message, options, token);
            });
    }

    async Task HandleAsync(ITopicHandler handler, TopicMessage message, TopicConsumerOptions options, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            using var span = TopicSpans.Start(message, "kafka");
            try
            {
                await handler.HandleAsync(message with { Attempts = attempt - 1 }, ct);
                return;
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                span.Fail(e);
                logger.LogWarning(e, "Topic {Topic}: message {MessageId} (key {Key}) failed attempt {Attempt} of {MaxAttempts}",
                    handler.Topic, message.MessageId, PiiHash.Of(message.Key), attempt, options.MaxAttempts);
                if (attempt >= options.MaxAttempts)
                {
                    await ParkAsync(handler, message with { Attempts = attempt }, RetryBackoff.Describe(e), ct);
                    return;
                }
                await Task.Delay(RetryBackoff.Delay(attempt, options.RetryBaseDelay, options.RetryMaxDelay, Random.Shared.NextDouble()), ct);
            }
        }
    }

    async Task ParkAsync(ITopicHandler handler, TopicMessage message, string error, CancellationToken ct)
    {
        await using (var cmd = db.CreateCommand("""
            insert into topic_message (topic, message_key, payload, attempts, status, last_error, dead_at, traceparent)
            values ($1, $2, $3::json, $4, 'dead', $5, now(), $6)
            """))
        {
            cmd.Parameters.Add(new() { Value = handler.Topic });
            cmd.Parameters.Add(new() { Value = message.Key });
            cmd.Parameters.Add(new() { Value = message.Payload });
            cmd.Parameters.Add(new() { Value = message.Attempts });
            cmd.Parameters.Add(new() { Value = error });
            cmd.Parameters.Add(new() { Value = (object?)message.TraceParent ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            await cmd.ExecuteNonQueryAsync(ct);
        }
        try { await handler.OnDeadLetteredAsync(message, error, CancellationToken.None); }
        catch (Exception e) { logger.LogError(e, "Topic {Topic}: dead-letter hook failed for message {MessageId}", handler.Topic, message.MessageId); }
    }
}

public static class BrokerDeliveryRegistration
{
    /// <summary>
    /// The topic handlers without the Postgres consumers, for a host whose broker delivers the messages (Azure's Kafka
    /// triggers), plus <see cref="BrokerDelivery"/>. The same handlers the local host's consumers feed.
    /// </summary>
    public static IServiceCollection AddBrokerDelivery(this IServiceCollection services)
    {
        services.TryAddSingleton<ProcessIngestion>();
        services.TryAddSingleton<IdentityResolutionConsumer>();
        services.TryAddSingleton<Imports.ImportChunks>();
        services.TryAddSingleton<SummaryCalculationConsumer>();
        services.TryAddSingleton<EventStreamWriter>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<TopicConsumerOptions>, BindTopicConsumerOptions>(
            sp => new BindTopicConsumerOptions(sp.GetService<IConfiguration>())));
        services.TryAddSingleton<BrokerDelivery>();
        return services;
    }
}
