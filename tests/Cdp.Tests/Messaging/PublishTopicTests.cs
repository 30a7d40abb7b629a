using System.Collections.Concurrent;
using Cdp.Shared.Messaging;
using Cdp.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Npgsql;
using static Cdp.Tests.Messaging.TopicTestKit;

namespace Cdp.Tests.Messaging;

public sealed class PublishTopicTests(PostgresDatabase pg) : IClassFixture<PostgresDatabase>
{
    readonly NpgsqlDataSource db = pg.DataSource;

    [Fact]
    public async Task A_rolled_back_publish_is_never_delivered_and_a_committed_one_is_delivered_once()
    {
        var topic = NewTopic();
        var handled = new ConcurrentBag<Seq>();
        using var consumer = await Start(db, topic, (m, _) => { handled.Add(m.Read<Seq>()); return Task.CompletedTask; });

        await using (var conn = await db.OpenConnectionAsync())
        {
            await using (var tx = await conn.BeginTransactionAsync())
            {
                await TopicPublisher.PublishAsync(conn, tx, topic, "c1", new Seq("c1", 1));
                await tx.RollbackAsync();
            }
            await using (var tx = await conn.BeginTransactionAsync())
            {
                await TopicPublisher.PublishAsync(conn, tx, topic, "c1", new Seq("c1", 2));
                await tx.CommitAsync();
            }
        }

        await Eventually.Until(async () => !handled.IsEmpty && await Rows(db, topic) == 0, TimeSpan.FromSeconds(5), "delivered and deleted");
        await consumer.StopAsync(CancellationToken.None);
        Assert.Equal([new Seq("c1", 2)], handled);
    }

    [Fact]
    public async Task Publish_many_keeps_the_callers_order_and_camel_cases_the_payload()
    {
        var topic = NewTopic();
        await using (var conn = await db.OpenConnectionAsync())
            await TopicPublisher.PublishManyAsync(conn, null, topic, Enumerable.Range(1, 300).Select(i => ($"k{i % 3}", new Seq($"k{i % 3}", i))));

        await using var cmd = db.CreateCommand("select payload->>'n' from topic_message where topic = $1 order by message_id");
        cmd.Parameters.Add(new() { Value = topic });
        var ns = new List<int>();
        await using (var reader = await cmd.ExecuteReaderAsync())
            while (await reader.ReadAsync()) ns.Add(int.Parse(reader.GetString(0), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(Enumerable.Range(1, 300), ns);
    }

    [Fact]
    public async Task Stats_count_pending_and_dead_and_requeue_makes_dead_letters_pending_again()
    {
        var topic = NewTopic();
        for (var i = 1; i <= 3; i++) await Publish(db, topic, "k", i);
        await using (var cmd = db.CreateCommand(
            "update topic_message set status = 'dead', dead_at = now(), attempts = 8 where topic = $1 and payload->>'n' in ('1', '2')"))
        {
            cmd.Parameters.Add(new() { Value = topic });
            await cmd.ExecuteNonQueryAsync();
        }

        var stats = (await TopicAdmin.GetStatsAsync(db)).Single(s => s.Topic == topic);
        Assert.Equal(1, stats.Pending);
        Assert.Equal(2, stats.Dead);
        Assert.NotNull(stats.OldestPendingAge);
        Assert.Contains(await TopicAdmin.GetStatsAsync(db), s => s.Topic == Topics.Notification);

        Assert.Equal(2, await TopicAdmin.RequeueDeadAsync(db, topic));
        Assert.Equal(3, await Rows(db, topic, "status = 'pending' and attempts = 0 and dead_at is null"));
        Assert.Equal(0, await TopicAdmin.RequeueDeadAsync(db, topic, messageId: 1));
    }

    sealed class NotificationHandler : ITopicHandler
    {
        public string Topic => Topics.Notification;
        public Task HandleAsync(TopicMessage message, CancellationToken ct) => Task.CompletedTask;
    }

    [Fact]
    public void Registration_binds_options_per_topic_over_the_defaults_and_hosts_a_consumer()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Topics:Default:BatchSize"] = "10",
            ["Topics:Default:MaxAttempts"] = "3",
            [$"Topics:{Topics.Notification}:BatchSize"] = "5",
            [$"Topics:{Topics.Notification}:LeaseDuration"] = "00:01:00",
        }).Build();
        var services = new ServiceCollection()
            .AddSingleton<IConfiguration>(configuration)
            .AddLogging()
            .AddSingleton(db);
        services.AddTopicConsumer<NotificationHandler>();
        using var provider = services.BuildServiceProvider();

        var monitor = provider.GetRequiredService<IOptionsMonitor<TopicConsumerOptions>>();
        var notification = monitor.Get(Topics.Notification);
        Assert.Equal((5, 3, TimeSpan.FromMinutes(1)), (notification.BatchSize, notification.MaxAttempts, notification.LeaseDuration));
        var other = monitor.Get(Topics.EventStream);
        Assert.Equal((10, 3, TimeSpan.FromSeconds(30)), (other.BatchSize, other.MaxAttempts, other.LeaseDuration));

        var consumer = Assert.IsType<TopicConsumer>(Assert.Single(provider.GetServices<IHostedService>()));
        Assert.Equal(Topics.Notification, consumer.Topic);
        Assert.StartsWith($"{Environment.MachineName}:{Environment.ProcessId}:", consumer.ConsumerId);
    }

    [Fact]
    public void Each_registered_handler_gets_its_own_hosted_consumer()
    {
        var services = new ServiceCollection()
            .AddSingleton<IConfiguration>(new ConfigurationBuilder().Build())
            .AddLogging()
            .AddSingleton(db);
        services.AddTopicConsumer<NotificationHandler>();
        services.AddTopicConsumer<EventStreamHandler>();
        using var provider = services.BuildServiceProvider();

        var topics = provider.GetServices<IHostedService>().Cast<TopicConsumer>().Select(c => c.Topic).Order();
        Assert.Equal([Topics.EventStream, Topics.Notification], topics);
    }

    sealed class EventStreamHandler : ITopicHandler
    {
        public string Topic => Topics.EventStream;
        public Task HandleAsync(TopicMessage message, CancellationToken ct) => Task.CompletedTask;
    }
}
