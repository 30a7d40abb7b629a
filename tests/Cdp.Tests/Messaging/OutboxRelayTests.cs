using System.Collections.Concurrent;
using Cdp.Shared.Messaging;
using Cdp.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using static Cdp.Tests.Messaging.TopicTestKit;

namespace Cdp.Tests.Messaging;

/// <summary>Kafka is an outside system: it is stood in for by a sink that records, acknowledges or fails on cue.</summary>
public sealed class RecordingSink : IOutboxSink
{
    public ConcurrentQueue<OutboxMessage> Sent { get; } = new();
    public Func<OutboxMessage, bool> Acknowledge { get; set; } = _ => true;
    public Func<IReadOnlyList<OutboxMessage>, Task>? WhileSending { get; set; }
    public bool Fail { get; set; }

    public async Task<IReadOnlyCollection<long>> SendAsync(IReadOnlyList<OutboxMessage> messages, CancellationToken ct)
    {
        if (WhileSending is { } hook) await hook(messages);
        foreach (var m in messages) Sent.Enqueue(m);
        if (Fail) throw new InvalidOperationException("broker unreachable");
        return messages.Where(Acknowledge).Select(m => m.MessageId).ToList();
    }
}

public sealed class OutboxRelayTests(PostgresDatabase pg) : IClassFixture<PostgresDatabase>
{
    readonly NpgsqlDataSource db = pg.DataSource;

    OutboxRelay Relay(IOutboxSink sink, string topic, int batchSize = 100) =>
        new(db, sink, Options.Create(new OutboxRelayOptions { BatchSize = batchSize, Topics = [topic] }), NullLogger<OutboxRelay>.Instance);

    static int N(OutboxMessage m) => System.Text.Json.JsonDocument.Parse(m.Payload).RootElement.GetProperty("n").GetInt32();

    async Task PublishInterleaved(string topic, int perKey, params string[] keys)
    {
        for (var n = 1; n <= perKey; n++)
            foreach (var key in keys)
                await Publish(db, topic, key, n);
    }

    [Fact]
    public async Task Rows_reach_the_sink_in_publish_order_per_key_and_leave_the_outbox()
    {
        var topic = NewTopic();
        await PublishInterleaved(topic, 5, "c1", "c2", "c3");
        var sink = new RecordingSink();
        var relay = Relay(sink, topic, batchSize: 4);

        while ((await relay.RelayOnceAsync(CancellationToken.None)).Read > 0) { }

        Assert.Equal(0, await Rows(db, topic));
        foreach (var key in new[] { "c1", "c2", "c3" })
            Assert.Equal([1, 2, 3, 4, 5], sink.Sent.Where(m => m.Key == key).Select(N));
        Assert.Equal(15, sink.Sent.Count);
    }

    [Fact]
    public async Task Nothing_is_marked_relayed_before_the_sink_acknowledged_it()
    {
        var topic = NewTopic();
        await PublishInterleaved(topic, 2, "c1", "c2");
        var sink = new RecordingSink();
        long rowsWhileSending = -1;
        sink.WhileSending = async _ => rowsWhileSending = await Rows(db, topic);
        sink.Acknowledge = m => m.Key == "c1";   // the broker took c1's messages only

        var result = await Relay(sink, topic).RelayOnceAsync(CancellationToken.None);

        Assert.Equal(4, rowsWhileSending);
        Assert.Equal(new OutboxRelayResult(4, 2), result);
        Assert.Equal(2, await Rows(db, topic, "message_key = 'c2'"));
        Assert.Equal(0, await Rows(db, topic, "message_key = 'c1'"));
    }

    [Fact]
    public async Task A_sink_failure_leaves_every_row_for_the_next_sweep()
    {
        var topic = NewTopic();
        await PublishInterleaved(topic, 3, "c1", "c2");
        var sink = new RecordingSink { Fail = true };
        var relay = Relay(sink, topic);

        var failed = await relay.RelayOnceAsync(CancellationToken.None);
        Assert.True(failed.Failed);
        Assert.Equal(6, await Rows(db, topic));

        sink.Fail = false;
        var retried = await relay.RelayOnceAsync(CancellationToken.None);
        Assert.Equal(new OutboxRelayResult(6, 6), retried);
        Assert.Equal(0, await Rows(db, topic));
        // At least once: the failed round's messages went again, still in order per key.
        Assert.Equal([1, 2, 3, 1, 2, 3], sink.Sent.Where(m => m.Key == "c1").Select(N));
    }

    [Fact]
    public async Task A_key_keeps_its_rows_after_its_first_unacknowledged_one_so_order_survives_the_resend()
    {
        var topic = NewTopic();
        await PublishInterleaved(topic, 3, "c1");
        var sink = new RecordingSink();
        sink.Acknowledge = m => N(m) != 2;   // 1 and 3 acknowledged, 2 lost
        var relay = Relay(sink, topic);

        Assert.Equal(new OutboxRelayResult(3, 1), await relay.RelayOnceAsync(CancellationToken.None));
        sink.Acknowledge = _ => true;
        await relay.RelayOnceAsync(CancellationToken.None);

        Assert.Equal([1, 2, 3, 2, 3], sink.Sent.Select(N));
        Assert.Equal(0, await Rows(db, topic));
    }

    [Fact]
    public async Task Two_relays_at_once_never_send_a_row_twice()
    {
        var topic = NewTopic();
        await PublishInterleaved(topic, 20, "c1", "c2", "c3", "c4", "c5");
        var sent = new ConcurrentBag<long>();
        RecordingSink SlowSink() => new() { WhileSending = async batch => { await Task.Delay(30); foreach (var m in batch) sent.Add(m.MessageId); } };
        var relays = new[] { Relay(SlowSink(), topic, batchSize: 7), Relay(SlowSink(), topic, batchSize: 7) };

        await Task.WhenAll(relays.Select(relay => Task.Run(async () =>
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (await Rows(db, topic) > 0 && DateTime.UtcNow < deadline)
                await relay.RelayOnceAsync(CancellationToken.None);
        })));

        Assert.Equal(0, await Rows(db, topic));
        Assert.Equal(100, sent.Count);
        Assert.Equal(100, sent.Distinct().Count());
    }

    [Fact]
    public async Task A_signal_relays_at_once_instead_of_at_the_next_sweep()
    {
        var topic = NewTopic();
        var sink = new RecordingSink();
        var options = Options.Create(new OutboxRelayOptions { Topics = [topic], SweepInterval = TimeSpan.FromMinutes(5) });
        var signal = new OutboxSignal();
        using var service = new OutboxRelayService(
            new OutboxRelay(db, sink, options, NullLogger<OutboxRelay>.Instance), signal, options, NullLogger<OutboxRelayService>.Instance);
        await service.StartAsync(CancellationToken.None);
        try
        {
            await Task.Delay(200);   // the first round found nothing; the service now waits for a signal or the sweep
            await Publish(db, topic, "c1", 1);
            signal.Notify();
            await Eventually.Until(async () => await Rows(db, topic) == 0, TimeSpan.FromSeconds(10), "relayed after the signal");
            Assert.Single(sink.Sent);
        }
        finally
        {
            await service.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public void Relayable_takes_each_keys_acknowledged_prefix()
    {
        static OutboxMessage M(long id, string key) => new(id, "t", key, "{}", DateTimeOffset.UnixEpoch);
        var batch = new[] { M(1, "a"), M(2, "b"), M(3, "a"), M(4, "b"), M(5, "a") };
        Assert.Equal([1L, 2, 4], OutboxRelay.Relayable(batch, [1, 2, 4, 5]));
        Assert.Empty(OutboxRelay.Relayable(batch, []));
    }
}
