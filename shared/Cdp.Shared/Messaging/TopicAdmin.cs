using Npgsql;

namespace Cdp.Shared.Messaging;

public sealed record TopicStats(string Topic, long Pending, long Dead, TimeSpan? OldestPendingAge);

/// <summary>Operator views over the topics: backlog for /api/health, and putting dead letters back.</summary>
public static class TopicAdmin
{
    /// <summary>Every known topic (zeros when idle) plus any other topic that has rows.</summary>
    public static async Task<IReadOnlyList<TopicStats>> GetStatsAsync(NpgsqlDataSource db, CancellationToken ct = default)
    {
        await using var cmd = db.CreateCommand("""
            select topic,
                   count(*) filter (where status = 'pending'),
                   count(*) filter (where status = 'dead'),
                   now() - min(created_at) filter (where status = 'pending')
              from topic_message group by topic
            """);
        var stats = Topics.All.ToDictionary(t => t, t => new TopicStats(t, 0, 0, null));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var topic = reader.GetString(0);
            stats[topic] = new TopicStats(topic, reader.GetInt64(1), reader.GetInt64(2),
                reader.IsDBNull(3) ? null : reader.GetFieldValue<TimeSpan>(3));
        }
        return stats.Values.OrderBy(s => s.Topic, StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// Makes dead letters pending again with a fresh attempt budget (all of the topic's, or one). A requeued message
    /// keeps its id, so it becomes its key's head again and goes before that key's later pending messages.
    /// </summary>
    public static async Task<int> RequeueDeadAsync(NpgsqlDataSource db, string topic, long? messageId = null, CancellationToken ct = default)
    {
        await using var cmd = db.CreateCommand("""
            update topic_message
               set status = 'pending', attempts = 0, available_at = now(), dead_at = null, lease_owner = null, lease_until = null
             where topic = $1 and status = 'dead' and ($2::bigint is null or message_id = $2)
            """);
        cmd.Parameters.Add(new() { Value = topic });
        cmd.Parameters.Add(new() { Value = messageId.HasValue ? messageId.Value : DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bigint });
        return await cmd.ExecuteNonQueryAsync(ct);
    }
}
