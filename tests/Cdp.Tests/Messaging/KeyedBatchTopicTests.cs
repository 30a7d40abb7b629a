using System.Collections.Concurrent;
using Cdp.Shared.Messaging;
using Cdp.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using static Cdp.Tests.Messaging.TopicTestKit;

namespace Cdp.Tests.Messaging;

/// <summary>A keyed batch handler gets a round's heads together and settles each message on its own.</summary>
public sealed class KeyedBatchTopicTests(PostgresDatabase pg) : IClassFixture<PostgresDatabase>
{
    readonly NpgsqlDataSource db = pg.DataSource;

    sealed class BatchHandler(string topic, Func<IReadOnlyList<TopicMessage>, IReadOnlyList<Exception?>> handle) : ITopicKeyedBatchHandler
    {
        public string Topic => topic;
        public int Batches;
        public Task HandleAsync(TopicMessage message, CancellationToken ct) =>
            handle([message])[0] is { } error ? Task.FromException(error) : Task.CompletedTask;
        public Task<IReadOnlyList<Exception?>> HandleBatchAsync(IReadOnlyList<TopicMessage> batch, CancellationToken ct)
        {
            Interlocked.Increment(ref Batches);
            return Task.FromResult(handle(batch));
        }
    }

    [Fact]
    public async Task A_batch_holds_one_message_per_key_keeps_order_per_key_and_retries_only_the_failed_message()
    {
        var topic = NewTopic();
        var seen = new ConcurrentDictionary<string, List<int>>();
        var duplicateKeyInBatch = 0;
        var failedOnce = 0;
        var handler = new BatchHandler(topic, batch =>
        {
            if (batch.Select(m => m.Key).Distinct().Count() != batch.Count) Interlocked.Increment(ref duplicateKeyInBatch);
            return [.. batch.Select(m =>
            {
                var seq = m.Read<Seq>();
                // One message fails its first attempt; its neighbours in the batch must not be redelivered for it.
                if (seq.N == 7 && Interlocked.Exchange(ref failedOnce, 1) == 0) return new InvalidOperationException("bad record");
                lock (seen) seen.GetOrAdd(m.Key, _ => []).Add(seq.N);
                return (Exception?)null;
            })];
        });
        using var consumer = new TopicConsumer(handler, db, Fast(), NullLogger<TopicConsumer>.Instance);
        await using (var conn = await db.OpenConnectionAsync())
            await TopicPublisher.PublishManyAsync(conn, null, topic, Enumerable.Range(0, 400).Select(i => ($"key-{i % 40}", new Seq($"key-{i % 40}", i))));

        await consumer.StartAsync(CancellationToken.None);
        await Eventually.Until(async () => await Rows(db, topic) == 0, TimeSpan.FromSeconds(60), "all handled");
        await consumer.StopAsync(CancellationToken.None);

        Assert.Equal(0, duplicateKeyInBatch);
        Assert.True(handler.Batches > 0);
        Assert.Equal(400, seen.Values.Sum(l => l.Count));
        foreach (var (key, list) in seen) Assert.Equal(list.Order(), list);
    }
}
