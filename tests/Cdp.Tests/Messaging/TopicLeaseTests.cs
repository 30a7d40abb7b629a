using System.Collections.Concurrent;
using System.Diagnostics;
using Cdp.Shared.Messaging;
using Cdp.Tests.Support;
using Npgsql;
using static Cdp.Tests.Messaging.TopicTestKit;

namespace Cdp.Tests.Messaging;

public sealed class TopicLeaseTests(PostgresDatabase pg) : IClassFixture<PostgresDatabase>
{
    readonly NpgsqlDataSource db = pg.DataSource;

    [Fact]
    public async Task Claims_of_a_killed_consumer_are_processed_by_another_once_the_lease_expires()
    {
        var topic = NewTopic();
        for (var i = 0; i < 5; i++) await Publish(db, topic, $"k{i}", i);

        // Consumer A claims the batch and then "dies": no handling, no renewal, no release.
        var options = Fast();
        options.LeaseDuration = TimeSpan.FromSeconds(1.5);
        using var a = Consumer(db, topic, (_, ct) => Task.Delay(Timeout.Infinite, ct), options, "consumer-a");
        var claimed = await a.ClaimAsync(CancellationToken.None);
        var clock = Stopwatch.StartNew();
        Assert.Equal(5, claimed.Count);

        var handled = new ConcurrentDictionary<long, int>();
        var firstHandledAt = long.MaxValue;
        using var b = await Start(db, topic, (m, _) =>
        {
            Interlocked.CompareExchange(ref firstHandledAt, clock.ElapsedMilliseconds, long.MaxValue);
            handled.AddOrUpdate(m.MessageId, 1, (_, n) => n + 1);
            return Task.CompletedTask;
        }, options, "consumer-b");

        await Eventually.Until(async () => await Rows(db, topic) == 0, TimeSpan.FromSeconds(6), "taken over");
        await b.StopAsync(CancellationToken.None);

        Assert.Equal(claimed.Select(m => m.MessageId).Order(), handled.Keys.Order());
        Assert.All(handled.Values, n => Assert.Equal(1, n));
        Assert.True(firstHandledAt >= 1200, $"handled {firstHandledAt} ms after the claim, before the lease expired");
    }

    [Fact]
    public async Task Graceful_shutdown_lets_in_flight_handlers_finish_and_releases_the_rest_at_once()
    {
        var topic = NewTopic();
        for (var i = 0; i < 10; i++) await Publish(db, topic, $"k{i}", i);
        var options = Fast();
        options.MaxConcurrency = 2;
        options.LeaseDuration = TimeSpan.FromMinutes(1); // released rows must be free because of the release, not expiry
        options.ShutdownGrace = TimeSpan.FromSeconds(5);
        var started = 0;
        var finished = 0;
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var consumer = await Start(db, topic, async (_, _) =>
        {
            Interlocked.Increment(ref started);
            await gate.Task; // ignores cancellation: only the grace bounds it
            Interlocked.Increment(ref finished);
        }, options);

        await Eventually.Until(() => Volatile.Read(ref started) == 2, TimeSpan.FromSeconds(5), "two handlers in flight");
        var stopping = consumer.StopAsync(CancellationToken.None);
        await Task.Delay(100);
        Assert.False(stopping.IsCompleted);
        gate.SetResult();
        await stopping;

        Assert.Equal(2, started);
        Assert.Equal(2, finished);
        Assert.Equal(8, await Rows(db, topic));
        Assert.Equal(8, await Rows(db, topic, "status = 'pending' and lease_owner is null and lease_until is null and attempts = 0"));
    }

    [Fact]
    public async Task A_handler_still_running_after_the_grace_is_released_without_an_attempt()
    {
        var topic = NewTopic();
        await Publish(db, topic, "k", 1);
        var options = Fast();
        options.LeaseDuration = TimeSpan.FromMinutes(1);
        options.ShutdownGrace = TimeSpan.FromMilliseconds(200);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var consumer = await Start(db, topic, async (_, _) =>
        {
            started.TrySetResult();
            await Task.Delay(Timeout.Infinite, CancellationToken.None);
        }, options);

        await started.Task.WaitAsync(TimeSpan.FromSeconds(5));
        await consumer.StopAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal(1, await Rows(db, topic, "lease_owner is null and attempts = 0 and status = 'pending'"));
    }

    [Fact]
    public async Task A_handler_slower_than_its_lease_is_not_handed_to_a_second_consumer()
    {
        var topic = NewTopic();
        var options = Fast();
        // The handler outlives the lease, so only renewal keeps it ours; the lease leaves renewal 2 s of slack
        // because a busy CI machine (tests run in parallel) can delay one renewal round trip by a second.
        options.LeaseDuration = TimeSpan.FromSeconds(3);
        var calls = 0;
        async Task Slow(TopicMessage _, CancellationToken ct)
        {
            Interlocked.Increment(ref calls);
            await Task.Delay(TimeSpan.FromSeconds(4.5), ct);
        }
        using var a = await Start(db, topic, Slow, options, "consumer-a");
        using var b = await Start(db, topic, Slow, options, "consumer-b");

        await Publish(db, topic, "k", 1);
        await Eventually.Until(async () => await Rows(db, topic) == 0, TimeSpan.FromSeconds(12), "handled");
        await Task.WhenAll(a.StopAsync(CancellationToken.None), b.StopAsync(CancellationToken.None));

        Assert.Equal(1, calls);
    }
}
