using Cdp.Shared.Access;
using Cdp.Shared.Telemetry;
using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Cdp.Shared.Messaging;

/// <summary>
/// Feeds one topic to one handler. Several processes (or instances) share a topic: each claims messages with a
/// lease under its own consumer id. Only the head of each key (no earlier pending message of that key) is ever
/// claimed, so a key behaves like a Kafka partition: in order, one at a time, and a retrying head blocks its key.
/// </summary>
public sealed class TopicConsumer : BackgroundService
{
    // Claim rounds look at this many times BatchSize of the oldest pending rows before falling back to a scan by key.
    const int WindowFactor = 8;
    // Keys the fallback scan walks at most, which bounds a round's cost when a topic has very many keys.
    const int MaxKeysScanned = 4096;

    readonly ITopicHandler handler;
    readonly NpgsqlDataSource db;
    readonly TopicConsumerOptions options;
    readonly ILogger logger;
    // Handlers see this token, cancelled only once the shutdown grace has run out, not when claiming stops.
    readonly CancellationTokenSource handlerCancellation = new();
    // For a coalescing handler: the later messages of each claimed message's key that were queued at claim time.
    readonly ConcurrentDictionary<long, long[]> coveredBy = new();

    public TopicConsumer(
        ITopicHandler handler, NpgsqlDataSource db, TopicConsumerOptions options, ILogger<TopicConsumer> logger, string? consumerId = null)
    {
        options.Validate(handler.Topic);
        this.handler = handler;
        this.db = db;
        this.options = options;
        this.logger = logger;
        ConsumerId = consumerId ?? $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}";
    }

    public string Topic => handler.Topic;

    /// <summary>Written to lease_owner: machine, process and instance, so operators can tell who holds what.</summary>
    public string ConsumerId { get; }

    public override void Dispose()
    {
        base.Dispose();
        handlerCancellation.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Enabled) return;
        // A round that got work may have unblocked the next message of each key it finished: the loop looks again at once.
        await new LeasedWorkLoop($"Topic {Topic}", options.PollInterval, logger).RunAsync(RunRoundAsync, stoppingToken);
    }

    /// <summary>One claim, handle, settle cycle. Returns how many messages were claimed.</summary>
    internal async Task<int> RunRoundAsync(CancellationToken stopping)
    {
        if (stopping.IsCancellationRequested) return 0;
        // Claims are not cancelled midway: a claim whose answer we never read would sit out a whole lease.
        var claimed = await ClaimAsync(CancellationToken.None);
        if (claimed.Count == 0) return 0;

        var outcomes = new ConcurrentDictionary<long, Exception?>();
        var work = Parallel.ForEachAsync(Units(claimed), new ParallelOptions { MaxDegreeOfParallelism = options.MaxConcurrency }, async (unit, _) =>
        {
            if (stopping.IsCancellationRequested) return; // not started before shutdown: released below
            if (unit.Length > 1 && handler is ITopicKeyedBatchHandler batchHandler)
            {
                await HandleTogetherAsync(batchHandler, unit, outcomes);
                return;
            }
            foreach (var message in unit)
            {
                using var span = TopicSpans.Start(message, "postgres");
                try
                {
                    await handler.HandleAsync(message, handlerCancellation.Token);
                    outcomes[message.MessageId] = null;
                }
                catch (Exception ex)
                {
                    span.Fail(ex);
                    outcomes[message.MessageId] = ex;
                }
            }
        });

        await LeasedWorkLoop.FinishAsync(() => work, options.LeaseDuration / 3,
            () => RenewAsync(claimed.Where(m => !outcomes.ContainsKey(m.MessageId)).Select(m => m.MessageId).ToArray()),
            stopping, options.ShutdownGrace);

        // Settle what is known now; a handler still running after the grace is abandoned and its message released.
        var settled = outcomes.ToArray();
        if (!work.IsCompleted)
        {
            await handlerCancellation.CancelAsync();
            logger.LogWarning("Topic {Topic}: {Count} handler(s) still running after the shutdown grace; releasing their messages",
                Topic, claimed.Count - settled.Length);
        }
        var done = settled.Where(o => o.Value is null).Select(o => o.Key).ToArray();
        var failed = settled.Where(o => o.Value is not null)
            .Select(o => (Message: claimed.First(m => m.MessageId == o.Key), Error: o.Value!))
            .ToList();
        var unfinished = claimed.Select(m => m.MessageId).Except(settled.Select(o => o.Key)).ToArray();

        await CompleteAsync(done);
        await FailAsync(failed);
        await ReleaseAsync(unfinished);
        foreach (var message in claimed) coveredBy.TryRemove(message.MessageId, out _);
        return claimed.Count;
    }

    /// <summary>
    /// What runs concurrently in a round: each message alone, or for a keyed batch handler a few slices of the claim
    /// (two transactions in flight keep the database busy while the other slice is decided).
    /// </summary>
    IEnumerable<TopicMessage[]> Units(List<TopicMessage> claimed)
    {
        if (handler is not ITopicKeyedBatchHandler) return claimed.Select(m => new[] { m });
        var slices = Math.Clamp(claimed.Count / MinKeyedSlice, 1, options.MaxConcurrency);
        var size = (claimed.Count + slices - 1) / slices;
        return claimed.Chunk(size);
    }

    // Below this many messages a slice is not worth a transaction of its own.
    const int MinKeyedSlice = 16;

    async Task HandleTogetherAsync(ITopicKeyedBatchHandler batchHandler, TopicMessage[] unit, ConcurrentDictionary<long, Exception?> outcomes)
    {
        var spans = unit.Select(m => TopicSpans.Start(m, "postgres")).ToArray();
        try
        {
            var errors = await batchHandler.HandleBatchAsync(unit, handlerCancellation.Token);
            if (errors.Count != unit.Length) throw new InvalidOperationException($"Topic {Topic}: the batch handler settled {errors.Count} of {unit.Length} messages.");
            for (var i = 0; i < unit.Length; i++)
            {
                if (errors[i] is { } error) spans[i].Fail(error);
                outcomes[unit[i].MessageId] = errors[i];
            }
        }
        catch (Exception ex)
        {
            foreach (var (message, span) in unit.Zip(spans))
            {
                span.Fail(ex);
                outcomes[message.MessageId] = ex;
            }
        }
        finally
        {
            // Last started, first stopped: each stop restores the span current before it.
            for (var i = spans.Length - 1; i >= 0; i--) spans[i]?.Dispose();
        }
    }

    internal async Task<List<TopicMessage>> ClaimAsync(CancellationToken ct)
    {
        // The oldest pending rows first: with many keys the heads are dense there, and the round stays O(batch).
        // The window is the topic's oldest pending rows, so a key's oldest pending message, when the key is in the
        // window at all, is in it too: the heads are found inside the window, with no index probe per row (a probe per
        // window row made the claim a quarter of Postgres's CPU on the ingest bench, pg_stat_statements).
        var claimed = await ClaimWith($"""
            with w as (
                select message_id, message_key from topic_message
                 where topic = $1 and status = 'pending'
                 order by message_id limit $3),
            heads as (
                select distinct on (message_key) message_id from w order by message_key, message_id),
            c as (
                select m.message_id from heads h join topic_message m on m.message_id = h.message_id
                 where m.status = 'pending' and m.available_at <= now() and (m.lease_until is null or m.lease_until < now())
                 order by m.message_id limit $2
                 for update of m skip locked)
            update topic_message t set lease_owner = $4, lease_until = now() + $5
              from c where t.message_id = c.message_id
            returning t.message_id, t.topic, t.message_key, t.payload::text, t.attempts, t.created_at, {Covered}, t.traceparent
            """, options.BatchSize, options.BatchSize * WindowFactor, ct);
        if (claimed.Count == options.BatchSize) return claimed;

        // Few keys with a deep backlog (or a window of blocked keys): walk the keys instead, O(keys) not O(rows).
        var more = await ClaimWith($"""
            with recursive heads as (
                (select message_key, message_id from topic_message
                  where topic = $1 and status = 'pending' order by message_key, message_id limit 1)
                union all
                select n.message_key, n.message_id from heads h cross join lateral (
                    select message_key, message_id from topic_message
                     where topic = $1 and status = 'pending' and message_key > h.message_key
                     order by message_key, message_id limit 1) n),
            scanned as (select message_id from heads limit $3),
            c as (
                select m.message_id from scanned s join topic_message m on m.message_id = s.message_id
                 where m.status = 'pending' and m.available_at <= now() and (m.lease_until is null or m.lease_until < now())
                 order by m.message_id limit $2
                 for update of m skip locked)
            update topic_message t set lease_owner = $4, lease_until = now() + $5
              from c where t.message_id = c.message_id
            returning t.message_id, t.topic, t.message_key, t.payload::text, t.attempts, t.created_at, {Covered}, t.traceparent
            """, options.BatchSize - claimed.Count, MaxKeysScanned, ct);
        claimed.AddRange(more);
        return claimed;
    }

    // Committed and pending when the claim ran, so whatever caused them was committed before the handler reads.
    string Covered => handler is ICoalescingTopicHandler
        ? """
          array(select e.message_id from topic_message e
                 where e.topic = t.topic and e.message_key = t.message_key and e.status = 'pending' and e.message_id > t.message_id
                 order by e.message_id limit 1000)
          """
        : "null::bigint[]";

    async Task<List<TopicMessage>> ClaimWith(string sql, int limit, int scan, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(sql);
        cmd.Parameters.Add(new() { Value = Topic });
        cmd.Parameters.Add(new() { Value = limit });
        cmd.Parameters.Add(new() { Value = scan });
        cmd.Parameters.Add(new() { Value = ConsumerId });
        cmd.Parameters.Add(new() { Value = options.LeaseDuration });
        var messages = new List<TopicMessage>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            messages.Add(new TopicMessage(
                reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetInt32(4),
                reader.GetFieldValue<DateTimeOffset>(5)) { TraceParent = reader.IsDBNull(7) ? null : reader.GetString(7) });
            if (!reader.IsDBNull(6) && reader.GetFieldValue<long[]>(6) is { Length: > 0 } covered) coveredBy[reader.GetInt64(0)] = covered;
        }
        messages.Sort((a, b) => a.MessageId.CompareTo(b.MessageId));
        return messages;
    }

    async Task RenewAsync(long[] ids)
    {
        if (ids.Length == 0) return;
        try
        {
            await using var cmd = db.CreateCommand(
                "update topic_message set lease_until = now() + $3 where message_id = any($1) and lease_owner = $2");
            cmd.Parameters.Add(new() { Value = ids });
            cmd.Parameters.Add(new() { Value = ConsumerId });
            cmd.Parameters.Add(new() { Value = options.LeaseDuration });
            var renewed = await cmd.ExecuteNonQueryAsync();
            if (renewed < ids.Length)
                logger.LogWarning("Topic {Topic}: {Lost} lease(s) lost while handling; another consumer may process them too",
                    Topic, ids.Length - renewed);
        }
        catch (Exception ex)
        {
            // Keep handling: the next renewal may succeed before the lease runs out.
            logger.LogWarning(ex, "Topic {Topic}: lease renewal failed", Topic);
        }
    }

    async Task CompleteAsync(long[] ids)
    {
        if (ids.Length == 0) return;
        await using var cmd = db.CreateCommand("delete from topic_message where message_id = any($1) and lease_owner = $2");
        cmd.Parameters.Add(new() { Value = ids });
        cmd.Parameters.Add(new() { Value = ConsumerId });
        var deleted = await cmd.ExecuteNonQueryAsync();
        if (deleted < ids.Length)
            logger.LogWarning("Topic {Topic}: {Lost} handled message(s) had lost their lease and were handled elsewhere too",
                Topic, ids.Length - deleted);

        var covered = ids.SelectMany(id => coveredBy.TryGetValue(id, out var later) ? later : []).ToArray();
        if (covered.Length == 0) return;
        await using var coalesce = db.CreateCommand(
            "delete from topic_message where message_id = any($1) and status = 'pending' and lease_owner is null");
        coalesce.Parameters.Add(new() { Value = covered });
        await coalesce.ExecuteNonQueryAsync();
    }

    async Task FailAsync(List<(TopicMessage Message, Exception Error)> failed)
    {
        if (failed.Count == 0) return;
        foreach (var (message, error) in failed)
            logger.LogWarning(error, "Topic {Topic}: message {MessageId} (key {Key}) failed attempt {Attempt} of {MaxAttempts}",
                Topic, message.MessageId, PiiHash.Of(message.Key), message.Attempts + 1, options.MaxAttempts);
        await using var cmd = db.CreateCommand("""
            update topic_message t
               set attempts = t.attempts + 1,
                   last_error = f.error,
                   status = case when t.attempts + 1 >= $3 then 'dead' else 'pending' end,
                   dead_at = case when t.attempts + 1 >= $3 then now() end,
                   available_at = now() + f.delay_ms * interval '1 millisecond',
                   lease_owner = null, lease_until = null
              from unnest($1::bigint[], $4::text[], $5::float8[]) as f(id, error, delay_ms)
             where t.message_id = f.id and t.lease_owner = $2
            returning t.message_id, t.status
            """);
        cmd.Parameters.Add(new() { Value = failed.Select(f => f.Message.MessageId).ToArray() });
        cmd.Parameters.Add(new() { Value = ConsumerId });
        cmd.Parameters.Add(new() { Value = options.MaxAttempts });
        cmd.Parameters.Add(new() { Value = failed.Select(f => RetryBackoff.Describe(f.Error)).ToArray() });
        cmd.Parameters.Add(new()
        {
            Value = failed.Select(f => RetryBackoff.Delay(
                f.Message.Attempts + 1, options.RetryBaseDelay, options.RetryMaxDelay, Random.Shared.NextDouble()).TotalMilliseconds).ToArray(),
        });
        var dead = new HashSet<long>();
        await using (var reader = await cmd.ExecuteReaderAsync())
            while (await reader.ReadAsync())
                if (reader.GetString(1) == "dead") dead.Add(reader.GetInt64(0));
        foreach (var (message, error) in failed.Where(f => dead.Contains(f.Message.MessageId)))
        {
            try { await handler.OnDeadLetteredAsync(message, RetryBackoff.Describe(error), CancellationToken.None); }
            catch (Exception ex) { logger.LogError(ex, "Topic {Topic}: dead-letter hook failed for message {MessageId}", Topic, message.MessageId); }
        }
    }

    async Task ReleaseAsync(long[] ids)
    {
        if (ids.Length == 0) return;
        await using var cmd = db.CreateCommand(
            "update topic_message set lease_owner = null, lease_until = null where message_id = any($1) and lease_owner = $2");
        cmd.Parameters.Add(new() { Value = ids });
        cmd.Parameters.Add(new() { Value = ConsumerId });
        await cmd.ExecuteNonQueryAsync();
    }
}
