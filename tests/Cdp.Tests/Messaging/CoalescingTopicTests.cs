using Cdp.Shared.Messaging;
using Cdp.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using static Cdp.Tests.Messaging.TopicTestKit;

namespace Cdp.Tests.Messaging;

/// <summary>A coalescing handler (a full rebuild per key) handles a key's queued messages once, never loses a later one.</summary>
public sealed class CoalescingTopicTests(PostgresDatabase pg) : IClassFixture<PostgresDatabase>
{
    readonly NpgsqlDataSource db = pg.DataSource;

    sealed class Rebuild(string topic, Func<TopicMessage, CancellationToken, Task> handle) : ICoalescingTopicHandler
    {
        public string Topic => topic;
        public Task HandleAsync(TopicMessage message, CancellationToken ct) => handle(message, ct);
    }

    async Task<TopicConsumer> StartAsync(string topic, Func<TopicMessage, CancellationToken, Task> handle)
    {
        var consumer = new TopicConsumer(new Rebuild(topic, handle), db, Fast(), NullLogger<TopicConsumer>.Instance);
        await consumer.StartAsync(CancellationToken.None);
        return consumer;
    }

    [Fact]
    public async Task Messages_of_a_key_queued_before_the_claim_are_handled_once()
    {
        var topic = NewTopic();
        for (var i = 0; i < 5; i++) await Publish(db, topic, "k", i);
        await Publish(db, topic, "other", 0);
        var calls = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();

        using var consumer = await StartAsync(topic, (m, _) => { calls.AddOrUpdate(m.Key, 1, (_, n) => n + 1); return Task.CompletedTask; });
        await Eventually.Until(async () => await Rows(db, topic) == 0, TimeSpan.FromSeconds(10), "all settled");
        await consumer.StopAsync(CancellationToken.None);

        Assert.Equal(1, calls["k"]);
        Assert.Equal(1, calls["other"]);
    }

    [Fact]
    public async Task A_message_queued_while_its_key_is_being_handled_is_handled_after()
    {
        var topic = NewTopic();
        await Publish(db, topic, "k", 0);
        await Publish(db, topic, "k", 1);
        var calls = 0;
        var handling = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var consumer = await StartAsync(topic, async (_, _) =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                handling.SetResult();
                await release.Task;
            }
        });

        await handling.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await Publish(db, topic, "k", 2);   // its cause may be newer than what the running handler read
        release.SetResult();
        await Eventually.Until(async () => await Rows(db, topic) == 0, TimeSpan.FromSeconds(10), "all settled");
        await consumer.StopAsync(CancellationToken.None);

        Assert.Equal(2, calls);   // 0 (covering 1), then 2
    }

    [Fact]
    public async Task A_failed_handling_drops_nothing_and_the_retry_covers_the_key()
    {
        var topic = NewTopic();
        for (var i = 0; i < 3; i++) await Publish(db, topic, "k", i);
        var calls = 0;
        using var consumer = await StartAsync(topic, (_, _) =>
            Interlocked.Increment(ref calls) == 1 ? throw new InvalidOperationException("the database blinked") : Task.CompletedTask);

        await Eventually.Until(async () => await Rows(db, topic) == 0, TimeSpan.FromSeconds(10), "all settled");
        await consumer.StopAsync(CancellationToken.None);

        Assert.Equal(2, calls);
    }
}
