using System.Collections.Concurrent;
using System.Diagnostics;
using Cdp.Shared.Messaging;
using Cdp.Tests.Support;
using Npgsql;
using static Cdp.Tests.Messaging.TopicTestKit;

namespace Cdp.Tests.Messaging;

public sealed class ConsumeTopicTests(PostgresDatabase pg) : IClassFixture<PostgresDatabase>
{
    readonly NpgsqlDataSource db = pg.DataSource;

    [Fact]
    public async Task Three_consumers_keep_order_per_key_and_run_keys_in_parallel()
    {
        var topic = NewTopic();
        const int Keys = 50, Messages = 2000;
        var perKey = new ConcurrentDictionary<string, List<int>>();
        var inFlightKeys = new ConcurrentDictionary<string, byte>();
        var overlaps = 0;
        var running = 0;
        var maxRunning = 0;
        var byConsumer = new ConcurrentDictionary<string, int>();

        async Task Handle(string consumer, TopicMessage m)
        {
            var seq = m.Read<Seq>();
            if (!inFlightKeys.TryAdd(m.Key, 0)) Interlocked.Increment(ref overlaps);
            var now = Interlocked.Increment(ref running);
            int seen;
            while (now > (seen = Volatile.Read(ref maxRunning)) && Interlocked.CompareExchange(ref maxRunning, now, seen) != seen) { }
            await Task.Delay(Random.Shared.Next(0, 4));
            lock (perKey) perKey.GetOrAdd(m.Key, _ => []).Add(seq.N);
            byConsumer.AddOrUpdate(consumer, 1, (_, n) => n + 1);
            Interlocked.Decrement(ref running);
            inFlightKeys.TryRemove(m.Key, out _);
        }

        var consumers = new List<TopicConsumer>();
        foreach (var id in new[] { "a", "b", "c" })
            consumers.Add(await Start(db, topic, (m, _) => Handle(id, m), id: $"consumer-{id}"));

        await using (var conn = await db.OpenConnectionAsync())
            foreach (var chunk in Enumerable.Range(0, Messages).Chunk(500))
                await TopicPublisher.PublishManyAsync(conn, null, topic, chunk.Select(i => ($"key-{i % Keys}", new Seq($"key-{i % Keys}", i))));

        await Eventually.Until(async () => await Rows(db, topic) == 0, TimeSpan.FromSeconds(20), "all handled");
        foreach (var consumer in consumers) await consumer.StopAsync(CancellationToken.None);
        foreach (var consumer in consumers) consumer.Dispose();

        Assert.Equal(Messages, perKey.Values.Sum(l => l.Count));
        Assert.Equal(Keys, perKey.Count);
        foreach (var (key, ns) in perKey)
            Assert.Equal(Enumerable.Range(0, Messages).Where(i => $"key-{i % Keys}" == key), ns);
        Assert.Equal(0, overlaps);
        Assert.True(maxRunning > 1, $"max concurrency {maxRunning}");
    }

    [Fact]
    public async Task A_failing_message_is_retried_with_backoff_and_succeeds_on_the_third_attempt()
    {
        var topic = NewTopic();
        var attempts = new ConcurrentQueue<(int Attempts, long At)>();
        var clock = Stopwatch.StartNew();
        using var consumer = await Start(db, topic, (m, _) =>
        {
            attempts.Enqueue((m.Attempts, clock.ElapsedMilliseconds));
            if (m.Attempts < 2) throw new InvalidOperationException("downstream unavailable");
            return Task.CompletedTask;
        });

        await Publish(db, topic, "c1", 1);
        await Eventually.Until(async () => await Rows(db, topic) == 0, TimeSpan.FromSeconds(5), "handled");
        await consumer.StopAsync(CancellationToken.None);

        var seen = attempts.ToArray();
        Assert.Equal([0, 1, 2], seen.Select(a => a.Attempts));
        // Backoff with base 50 ms: at least 25 ms before the 2nd attempt and 50 ms before the 3rd.
        Assert.True(seen[1].At - seen[0].At >= 25, $"first gap {seen[1].At - seen[0].At} ms");
        Assert.True(seen[2].At - seen[1].At >= 50, $"second gap {seen[2].At - seen[1].At} ms");
    }

    [Fact]
    public async Task A_message_that_always_fails_goes_dead_and_unblocks_the_next_message_of_its_key()
    {
        var topic = NewTopic();
        var options = Fast();
        options.MaxAttempts = 3;
        var events = new ConcurrentQueue<int>();
        using var consumer = await Start(db, topic, (m, _) =>
        {
            var n = m.Read<Seq>().N;
            events.Enqueue(n);
            if (n == 1) throw new FormatException("poison");
            return Task.CompletedTask;
        }, options);

        await Publish(db, topic, "c1", 1);
        await Publish(db, topic, "c1", 2);
        await Eventually.Until(async () => await Rows(db, topic, "status = 'pending'") == 0, TimeSpan.FromSeconds(5), "dead + delivered");
        await consumer.StopAsync(CancellationToken.None);

        Assert.Equal([1, 1, 1, 2], events);
        await using var cmd = db.CreateCommand(
            "select attempts, last_error, dead_at is not null, lease_owner is null from topic_message where topic = $1 and status = 'dead'");
        cmd.Parameters.Add(new() { Value = topic });
        await using var reader = await cmd.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(3, reader.GetInt32(0));
        Assert.Equal("System.FormatException: poison", reader.GetString(1));
        Assert.True(reader.GetBoolean(2));
        Assert.True(reader.GetBoolean(3));
        Assert.False(await reader.ReadAsync());
    }
}
