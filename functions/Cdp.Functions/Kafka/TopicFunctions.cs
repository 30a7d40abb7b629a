using Cdp.Shared.Events;
using Cdp.Shared.Identity;
using Cdp.Shared.Imports;
using Cdp.Shared.Ingestion;
using Cdp.Shared.Messaging;
using Cdp.Shared.Notifications;
using Cdp.Shared.Summaries;
using Microsoft.Azure.Functions.Worker;

namespace Cdp.Functions.Kafka;

/// <summary>
/// A batched Kafka trigger (Event Hubs' Kafka endpoint) for every topic the local host consumes, feeding the same
/// handler. Settings: KafkaBrokerList ("&lt;namespace&gt;.servicebus.windows.net:9093"), EventHubConnectionString,
/// KafkaConsumerGroup. The retry policy redelivers a batch only when <see cref="BrokerDelivery"/> could not even park a
/// failing message (the database is down): keep retrying, the offset must not move past unhandled messages.
/// </summary>
public sealed class TopicFunctions(
    BrokerDelivery delivery, ProcessIngestion ingestion, IdentityResolutionConsumer identity, SummaryCalculationConsumer summaries,
    EventStreamWriter events, NotifyOwner notifications, ImportChunks imports)
{
    const string Broker = "KafkaBrokerList";
    const string Password = "EventHubConnectionString";
    const string Group = "%KafkaConsumerGroup%";
    // Event Hubs takes the literal user name "$ConnectionString" (no app setting has that name, so it stays literal).
    const string User = "$ConnectionString";

    [Function("DataIngestionTopic")]
    [ExponentialBackoffRetry(-1, "00:00:05", "00:05:00")]
    public Task DataIngestion(
        [KafkaTrigger(Broker, Topics.DataIngestion, ConsumerGroup = Group, Protocol = BrokerProtocol.SaslSsl,
            AuthenticationMode = BrokerAuthenticationMode.Plain, Username = User, Password = Password, IsBatched = true)] KafkaRecord[] records,
        FunctionContext context) =>
        delivery.DeliverAsync(ingestion, KafkaRecords.ToMessages(Topics.DataIngestion, records), context.CancellationToken);

    [Function("IdentityResolutionTopic")]
    [ExponentialBackoffRetry(-1, "00:00:05", "00:05:00")]
    public Task IdentityResolution(
        [KafkaTrigger(Broker, Topics.IdentityResolution, ConsumerGroup = Group, Protocol = BrokerProtocol.SaslSsl,
            AuthenticationMode = BrokerAuthenticationMode.Plain, Username = User, Password = Password, IsBatched = true)] KafkaRecord[] records,
        FunctionContext context) =>
        delivery.DeliverAsync(identity, KafkaRecords.ToMessages(Topics.IdentityResolution, records), context.CancellationToken);

    [Function("SummaryCalculationTopic")]
    [ExponentialBackoffRetry(-1, "00:00:05", "00:05:00")]
    public Task SummaryCalculation(
        [KafkaTrigger(Broker, Topics.SummaryCalculation, ConsumerGroup = Group, Protocol = BrokerProtocol.SaslSsl,
            AuthenticationMode = BrokerAuthenticationMode.Plain, Username = User, Password = Password, IsBatched = true)] KafkaRecord[] records,
        FunctionContext context) =>
        delivery.DeliverAsync(summaries, KafkaRecords.ToMessages(Topics.SummaryCalculation, records), context.CancellationToken);

    [Function("NotificationTopic")]
    [ExponentialBackoffRetry(-1, "00:00:05", "00:05:00")]
    public Task Notification(
        [KafkaTrigger(Broker, Topics.Notification, ConsumerGroup = Group, Protocol = BrokerProtocol.SaslSsl,
            AuthenticationMode = BrokerAuthenticationMode.Plain, Username = User, Password = Password, IsBatched = true)] KafkaRecord[] records,
        FunctionContext context) =>
        delivery.DeliverAsync(notifications, KafkaRecords.ToMessages(Topics.Notification, records), context.CancellationToken);

    /// <summary>One staged chunk of a bulk import per message (keyed by import, so one import's chunks run in order).</summary>
    [Function("BulkImportTopic")]
    [ExponentialBackoffRetry(-1, "00:00:05", "00:05:00")]
    public Task BulkImport(
        [KafkaTrigger(Broker, Topics.BulkImport, ConsumerGroup = Group, Protocol = BrokerProtocol.SaslSsl,
            AuthenticationMode = BrokerAuthenticationMode.Plain, Username = User, Password = Password, IsBatched = true)] KafkaRecord[] records,
        FunctionContext context) =>
        delivery.DeliverAsync(imports, KafkaRecords.ToMessages(Topics.BulkImport, records), context.CancellationToken);

    /// <summary>ClickHouse wants few large inserts and no order per key: the whole batch is one insert; a failed insert retries the batch.</summary>
    [Function("EventStreamTopic")]
    [ExponentialBackoffRetry(-1, "00:00:05", "00:05:00")]
    public Task EventStream(
        [KafkaTrigger(Broker, Topics.EventStream, ConsumerGroup = Group, Protocol = BrokerProtocol.SaslSsl,
            AuthenticationMode = BrokerAuthenticationMode.Plain, Username = User, Password = Password, IsBatched = true)] KafkaRecord[] records,
        FunctionContext context) =>
        events.HandleBatchAsync(KafkaRecords.ToMessages(Topics.EventStream, records), context.CancellationToken);
}
