using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Cdp.Shared.Messaging;

/// <summary>One outbox row (a topic_message) on its way to the broker.</summary>
public sealed record OutboxMessage(long MessageId, string Topic, string Key, string Payload, DateTimeOffset CreatedAt)
{
    /// <summary>The publisher's W3C trace context, sent as the Kafka header <c>traceparent</c>.</summary>
    public string? TraceParent { get; init; }
}

/// <summary>
/// Where the relay hands the outbox: on Azure, Event Hubs' Kafka endpoint. Kafka is an outside system, so the relay
/// knows it only through this.
/// </summary>
public interface IOutboxSink
{
    /// <summary>
    /// Sends <paramref name="messages"/> keyed by <see cref="OutboxMessage.Key"/>, in the given order (which is the
    /// order per key), and returns the ids the broker acknowledged. A message missing from the answer was not sent;
    /// throwing means none was.
    /// </summary>
    Task<IReadOnlyCollection<long>> SendAsync(IReadOnlyList<OutboxMessage> messages, CancellationToken ct);
}

/// <summary>Bound from "Outbox".</summary>
public sealed class OutboxRelayOptions
{
    public const string Section = "Outbox";

    /// <summary>Rows read (and sent) per round.</summary>
    public int BatchSize { get; set; } = 500;

    /// <summary>How often the relay looks without being signalled: catches commits nobody signalled (other processes, crashes).</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Topics relayed; empty relays every topic.</summary>
    public string[] Topics { get; set; } = [];
}

public sealed record OutboxRelayResult(int Read, int Relayed)
{
    public bool Failed => Relayed < Read;
}

/// <summary>
/// Moves committed topic_message rows to the broker, at least once. A row is deleted only after the sink said the
/// broker has it, so a crash or a failed send leaves it for the next round. One relay works at a time (a transaction
/// advisory lock): a second one running alongside would send the same rows again or a key's later rows before its
/// earlier ones. Order per key holds because rows go out in message id order and a key's rows after its first unsent
/// one stay too, to go again behind it.
/// </summary>
public sealed class OutboxRelay(NpgsqlDataSource db, IOutboxSink sink, IOptions<OutboxRelayOptions> options, ILogger<OutboxRelay> logger)
{
    // Any constant works; it only has to be the same in every process that relays this database.
    const long LockKey = 0x0C_D0_0B_0E;

    public async Task<OutboxRelayResult> RelayOnceAsync(CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        if (!await TryLockAsync(conn, tx, ct)) return new OutboxRelayResult(0, 0);   // another relay is at it
        var batch = await ReadAsync(conn, tx, ct);
        if (batch.Count == 0) return new OutboxRelayResult(0, 0);

        IReadOnlyCollection<long> acknowledged;
        try
        {
            acknowledged = await sink.SendAsync(batch, ct);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            logger.LogWarning(e, "Outbox: sending {Count} message(s) failed; they stay for the next round", batch.Count);
            acknowledged = [];
        }

        var relayed = Relayable(batch, acknowledged);
        if (relayed.Count > 0)
        {
            await using var delete = new NpgsqlCommand("delete from topic_message where message_id = any($1)", conn, tx);
            delete.Parameters.Add(new() { Value = relayed.ToArray() });
            await delete.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        if (relayed.Count < batch.Count)
            logger.LogWarning("Outbox: {Left} of {Count} message(s) not acknowledged; kept for the next round", batch.Count - relayed.Count, batch.Count);
        return new OutboxRelayResult(batch.Count, relayed.Count);
    }

    /// <summary>
    /// The ids that may be marked relayed: per key, the acknowledged messages before its first unacknowledged one.
    /// A later message of that key stays even when acknowledged, so the key's order is kept when the unsent one goes again.
    /// </summary>
    public static IReadOnlyList<long> Relayable(IReadOnlyList<OutboxMessage> batch, IReadOnlyCollection<long> acknowledged)
    {
        var acked = acknowledged as ISet<long> ?? acknowledged.ToHashSet();
        var blocked = new HashSet<(string, string)>();
        var relayable = new List<long>();
        foreach (var m in batch)
        {
            if (blocked.Contains((m.Topic, m.Key))) continue;
            if (acked.Contains(m.MessageId)) relayable.Add(m.MessageId);
            else blocked.Add((m.Topic, m.Key));
        }
        return relayable;
    }

    static async Task<bool> TryLockAsync(NpgsqlConnection conn, NpgsqlTransaction tx, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("select pg_try_advisory_xact_lock($1)", conn, tx);
        cmd.Parameters.Add(new() { Value = LockKey });
        return (bool)(await cmd.ExecuteScalarAsync(ct))!;
    }

    async Task<List<OutboxMessage>> ReadAsync(NpgsqlConnection conn, NpgsqlTransaction tx, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            select message_id, topic, message_key, payload::text, created_at, traceparent from topic_message
             where status = 'pending' and (cardinality($2::text[]) = 0 or topic = any($2))
             order by message_id limit $1
            """, conn, tx);
        cmd.Parameters.Add(new() { Value = options.Value.BatchSize });
        cmd.Parameters.Add(new() { Value = options.Value.Topics });
        var batch = new List<OutboxMessage>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            batch.Add(new OutboxMessage(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                reader.GetFieldValue<DateTimeOffset>(4)) { TraceParent = reader.IsDBNull(5) ? null : reader.GetString(5) });
        return batch;
    }
}
