using System.Collections.Concurrent;
using Cdp.Shared.Messaging;
using Cdp.Tests.Support;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using static Cdp.Tests.Messaging.TopicTestKit;

namespace Cdp.Tests.Messaging;

/// <summary>What a Kafka-fed host (Azure) does with a delivered batch: the Postgres consumer's guarantees, without the claim.</summary>
public sealed class BrokerDeliveryTests(PostgresDatabase pg) : IClassFixture<PostgresDatabase>
{
    readonly NpgsqlDataSource db = pg.DataSource;

    sealed class DeadLetterHandler(string topic, Func<TopicMessage, Task> handle) : ITopicHandler
    {
        public ConcurrentQueue<string> DeadLettered { get; } = new();
        public string Topic => topic;
        public Task HandleAsync(TopicMessage message, CancellationToken ct) => handle(message);
        public Task OnDeadLetteredAsync(TopicMessage message, string error, CancellationToken ct)
        {
            DeadLettered.Enqueue(message.Key);
            return Task.CompletedTask;
        }
    }

    BrokerDelivery Delivery(ILogger<BrokerDelivery>? logger = null)
    {
        var monitor = new StaticOptionsMonitor(Fast());
        return new BrokerDelivery(db, monitor, logger ?? NullLogger<BrokerDelivery>.Instance);
    }

    static List<TopicMessage> Batch(string topic, params (string Key, int N)[] items) =>
        items.Select((m, i) => new TopicMessage(i + 1, topic, m.Key, $$"""{"key":"{{m.Key}}","n":{{m.N}}}""", 0, DateTimeOffset.UtcNow)).ToList();

    [Fact]
    public async Task A_keys_messages_are_handled_in_order_one_at_a_time()
    {
        var topic = NewTopic();
        var seen = new ConcurrentDictionary<string, ConcurrentQueue<int>>();
        var handler = new DeadLetterHandler(topic, async m =>
        {
            var s = m.Read<Seq>();
            await Task.Delay(Random.Shared.Next(5));
            seen.GetOrAdd(s.Key, _ => new()).Enqueue(s.N);
        });

        await Delivery().DeliverAsync(handler, Batch(topic, ("a", 1), ("b", 1), ("a", 2), ("b", 2), ("a", 3)), CancellationToken.None);

        Assert.Equal([1, 2, 3], seen["a"]);
        Assert.Equal([1, 2], seen["b"]);
    }

    [Fact]
    public async Task Failing_messages_with_personal_keys_log_only_their_hash()
    {
        var capture = new LogCapture();
        using var factory = LoggerFactory.Create(b => b.AddProvider(capture).SetMinimumLevel(LogLevel.Trace));
        var topic = NewTopic();
        var keys = LogKeyPrivacyTests.PersonalKeys(out var secrets);
        var handler = new DeadLetterHandler(topic, _ => throw new InvalidOperationException("poison"));

        await Delivery(factory.CreateLogger<BrokerDelivery>()).DeliverAsync(handler, Batch(topic, [.. keys.Select((k, i) => (k, i))]), CancellationToken.None);

        Assert.Equal(keys.Length, handler.DeadLettered.Count);
        LogKeyPrivacyTests.AssertNoneIn(capture.Lines, secrets, keys);
    }

    [Fact]
    public async Task A_message_that_keeps_failing_is_parked_dead_and_its_key_moves_on()
    {
        var topic = NewTopic();
        var handled = new ConcurrentQueue<int>();
        var handler = new DeadLetterHandler(topic, m =>
        {
            var s = m.Read<Seq>();
            if (s.N == 1) throw new InvalidOperationException("poison");
            handled.Enqueue(s.N);
            return Task.CompletedTask;
        });

        await Delivery().DeliverAsync(handler, Batch(topic, ("a", 1), ("a", 2)), CancellationToken.None);

        Assert.Equal([2], handled);
        Assert.Equal(["a"], handler.DeadLettered);
        Assert.Equal(1, await Rows(db, topic, $"status = 'dead' and attempts = {Fast().MaxAttempts} and last_error like '%poison%'"));
        Assert.Equal(0, await Rows(db, topic, "status = 'pending'"));   // parked, so the relay does not send it until requeued
    }

    sealed class StaticOptionsMonitor(TopicConsumerOptions options) : IOptionsMonitor<TopicConsumerOptions>
    {
        public TopicConsumerOptions CurrentValue => options;
        public TopicConsumerOptions Get(string? name) => options;
        public IDisposable? OnChange(Action<TopicConsumerOptions, string?> listener) => null;
    }
}
