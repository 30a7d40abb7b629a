using System.Text.Json;
using Cdp.Shared.Telemetry;
using Npgsql;
using NpgsqlTypes;

namespace Cdp.Shared.Messaging;

/// <summary>
/// Publishing is an insert in the caller's transaction, so the message exists exactly when the data it describes
/// commits (the outbox). No NOTIFY: Postgres serialises the commits of notifying transactions, which halved
/// ingestion throughput when measured; idle consumers poll instead (TopicConsumerOptions.PollInterval).
/// Order per key is publish (message id) order; publish one key's messages from one transaction at a time,
/// since two open transactions could commit in the opposite order of their ids. The current span's trace context goes
/// with the message (topic_message.traceparent), so its consumer continues the trace.
/// </summary>
public static class TopicPublisher
{
    public static async Task PublishAsync<T>(
        NpgsqlConnection conn, NpgsqlTransaction? tx, string topic, string key, T payload, CancellationToken ct = default)
    {
        await using var batch = new NpgsqlBatch(conn, tx) { BatchCommands = { PublishCommand(topic, key, payload) } };
        await batch.ExecuteNonQueryAsync(ct);
    }

    /// <summary>The publish as a batch command, for a caller that sends it together with its own writes.</summary>
    public static NpgsqlBatchCommand PublishCommand<T>(string topic, string key, T payload) =>
        new("insert into topic_message (topic, message_key, payload, traceparent) values ($1, $2, $3, $4)")
        {
            Parameters =
            {
                new() { Value = topic },
                new() { Value = key },
                new() { Value = JsonSerializer.Serialize(payload, CdpJson.Options), NpgsqlDbType = NpgsqlDbType.Json },
                new() { Value = (object?)CdpTelemetry.CurrentTraceParent ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text },
            },
        };

    public static async Task PublishManyAsync<T>(
        NpgsqlConnection conn, NpgsqlTransaction? tx, string topic, IEnumerable<(string Key, T Payload)> messages,
        CancellationToken ct = default)
    {
        var command = PublishManyCommand(topic, messages);
        if (command.Parameters[1].Value is string[] { Length: 0 }) return;

        await using var batch = new NpgsqlBatch(conn, tx) { BatchCommands = { command } };
        await batch.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Several publishes as one batch command (one statement), for a caller that sends it with its own writes.</summary>
    public static NpgsqlBatchCommand PublishManyCommand<T>(string topic, IEnumerable<(string Key, T Payload)> messages)
    {
        var keys = new List<string>();
        var payloads = new List<string>();
        foreach (var (key, payload) in messages)
        {
            keys.Add(key);
            payloads.Add(JsonSerializer.Serialize(payload, CdpJson.Options));
        }

        // with ordinality + order by: ids follow the caller's order, which is the order per key.
        return new("""
            insert into topic_message (topic, message_key, payload, traceparent)
            select $1, m.k, m.p::json, $4 from unnest($2::text[], $3::text[]) with ordinality as m(k, p, n) order by m.n
            """)
        {
            Parameters =
            {
                new() { Value = topic }, new() { Value = keys.ToArray() }, new() { Value = payloads.ToArray() },
                new() { Value = (object?)CdpTelemetry.CurrentTraceParent ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text },
            },
        };
    }
}
