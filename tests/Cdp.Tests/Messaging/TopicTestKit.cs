using Cdp.Shared.Messaging;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Cdp.Tests.Messaging;

public sealed record Seq(string Key, int N);

sealed class DelegateHandler(string topic, Func<TopicMessage, CancellationToken, Task> handle) : ITopicHandler
{
    public string Topic => topic;
    public Task HandleAsync(TopicMessage message, CancellationToken ct) => handle(message, ct);
}

static class TopicTestKit
{
    public static string NewTopic() => "test-" + Guid.NewGuid().ToString("N")[..10];

    /// <summary>Short durations so leases, retries and polls play out within a second or two.</summary>
    public static TopicConsumerOptions Fast() => new()
    {
        LeaseDuration = TimeSpan.FromSeconds(2),
        PollInterval = TimeSpan.FromMilliseconds(100),
        RetryBaseDelay = TimeSpan.FromMilliseconds(50),
        RetryMaxDelay = TimeSpan.FromMilliseconds(400),
        MaxAttempts = 4,
        ShutdownGrace = TimeSpan.FromSeconds(2),
    };

    public static TopicConsumer Consumer(NpgsqlDataSource db, string topic, Func<TopicMessage, CancellationToken, Task> handle,
        TopicConsumerOptions? options = null, string? id = null, ILogger<TopicConsumer>? logger = null) =>
        new(new DelegateHandler(topic, handle), db, options ?? Fast(), logger ?? NullLogger<TopicConsumer>.Instance, id);

    public static async Task<TopicConsumer> Start(NpgsqlDataSource db, string topic, Func<TopicMessage, CancellationToken, Task> handle,
        TopicConsumerOptions? options = null, string? id = null, ILogger<TopicConsumer>? logger = null)
    {
        var consumer = Consumer(db, topic, handle, options, id, logger);
        await consumer.StartAsync(CancellationToken.None);
        return consumer;
    }

    public static async Task Publish(NpgsqlDataSource db, string topic, string key, int n)
    {
        await using var conn = await db.OpenConnectionAsync();
        await TopicPublisher.PublishAsync(conn, null, topic, key, new Seq(key, n));
    }

    public static async Task<long> Rows(NpgsqlDataSource db, string topic, string where = "true")
    {
        await using var cmd = db.CreateCommand($"select count(*) from topic_message where topic = $1 and ({where})");
        cmd.Parameters.Add(new() { Value = topic });
        return (long)(await cmd.ExecuteScalarAsync())!;
    }
}
