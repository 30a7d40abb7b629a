using System.Globalization;
using System.Text;
using Cdp.Shared.Messaging;
using Confluent.Kafka;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Cdp.Functions.Kafka;

/// <summary>
/// The outbox relay's sink: Confluent.Kafka's producer against Event Hubs' Kafka endpoint (the Functions Kafka output
/// binding cannot tell which message of a batch the broker acknowledged, and the relay needs exactly that). Each
/// message is keyed by its outbox key, so a customer's messages share a partition; one request in flight per
/// connection keeps a retried send from overtaking the next one. Acknowledged = delivery report without error.
/// </summary>
sealed class KafkaOutboxSink : IOutboxSink, IDisposable
{
    /// <summary>The topic_message id, so the consumer's logs and dead letters name the original outbox row.</summary>
    public const string MessageIdHeader = "cdp-message-id";

    /// <summary>The publisher's W3C trace context (topic_message.traceparent), so the consumer continues its trace.</summary>
    public const string TraceParentHeader = "traceparent";

    readonly IProducer<string, string> producer;
    readonly ILogger<KafkaOutboxSink> logger;

    public KafkaOutboxSink(IConfiguration configuration, ILogger<KafkaOutboxSink> logger)
    {
        this.logger = logger;
        producer = new ProducerBuilder<string, string>(new ProducerConfig
        {
            BootstrapServers = configuration["KafkaBrokerList"] ?? throw new InvalidOperationException("KafkaBrokerList is not set."),
            SecurityProtocol = SecurityProtocol.SaslSsl,
            SaslMechanism = SaslMechanism.Plain,
            SaslUsername = "$ConnectionString",
            SaslPassword = configuration["EventHubConnectionString"] ?? throw new InvalidOperationException("EventHubConnectionString is not set."),
            Acks = Acks.All,
            MaxInFlight = 1,
            MessageTimeoutMs = 30_000,
            LingerMs = 5,
        }).Build();
    }

    public async Task<IReadOnlyCollection<long>> SendAsync(IReadOnlyList<OutboxMessage> messages, CancellationToken ct)
    {
        // Produce enqueues synchronously, so the producer's queue holds the batch in outbox order; then await the reports.
        var reports = messages.Select(m =>
        {
            var delivered = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            var headers = new Headers { { MessageIdHeader, Encoding.UTF8.GetBytes(m.MessageId.ToString(CultureInfo.InvariantCulture)) } };
            if (m.TraceParent is not null) headers.Add(TraceParentHeader, Encoding.UTF8.GetBytes(m.TraceParent));
            producer.Produce(m.Topic, new Message<string, string> { Key = m.Key, Value = m.Payload, Headers = headers }, report =>
            {
                if (report.Error.IsError)
                    logger.LogWarning("Outbox message {MessageId} to {Topic} not acknowledged: {Reason}", m.MessageId, m.Topic, report.Error.Reason);
                delivered.TrySetResult(!report.Error.IsError);
            });
            return (m.MessageId, Delivered: delivered.Task);
        }).ToList();

        var acknowledged = new List<long>(reports.Count);
        foreach (var (id, delivered) in reports)
            if (await delivered.WaitAsync(ct)) acknowledged.Add(id);
        return acknowledged;
    }

    public void Dispose()
    {
        producer.Flush(TimeSpan.FromSeconds(10));
        producer.Dispose();
    }
}
