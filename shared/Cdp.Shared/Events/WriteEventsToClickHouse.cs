using System.Diagnostics;
using Cdp.Shared.Messaging;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Cdp.Shared.Events;

/// <summary>
/// Drains event-stream into ClickHouse in batches: claims messages holding up to WriterBatchSize events (or what arrives within
/// WriterMaxWait), sends them as one JSONEachRow INSERT, and deletes them only after ClickHouse said yes. ClickHouse
/// wants few large inserts, which the per-key TopicConsumer (one message per key per round) cannot give, so this
/// claims with the topic's own lease columns but ignores key order — harmless, since the table orders rows itself
/// and collapses repeats. A failed insert releases the batch with the topic's backoff; nothing is dead-lettered,
/// because an outage of ClickHouse is no fault of the events (the backlog waits in Postgres).
/// </summary>
public sealed class WriteEventsToClickHouse : BackgroundService
{
    readonly NpgsqlDataSource db;
    readonly EventStreamWriter writer;
    readonly EventsOptions options;
    readonly TopicConsumerOptions topic;
    readonly ILogger logger;
    readonly string consumerId = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}";

    public WriteEventsToClickHouse(
        NpgsqlDataSource db, EventStreamWriter writer, IOptions<EventsOptions> options,
        IOptionsMonitor<TopicConsumerOptions> topics, ILogger<WriteEventsToClickHouse> logger)
    {
        options.Value.Validate();
        this.db = db;
        this.writer = writer;
        this.options = options.Value;
        topic = topics.Get(Topics.EventStream);
        topic.Validate(Topics.EventStream);
        this.logger = logger;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await writer.TryEnsureSchemaAsync(stoppingToken);
        await Task.WhenAll(Enumerable.Range(0, options.WriterConcurrency).Select(_ => Task.Run(() => LoopAsync(stoppingToken))));
    }

    Task LoopAsync(CancellationToken stopping) =>
        new LeasedWorkLoop("event-stream writer", topic.PollInterval, logger).RunAsync(RunRoundAsync, stopping);

    /// <summary>
    /// Gathers one batch of up to WriterBatchSize events (a message holds one accepted request's events, or one event),
    /// inserts it, settles it. Returns how many messages it took.
    /// </summary>
    internal async Task<int> RunRoundAsync(CancellationToken stopping)
    {
        var batch = await ClaimAsync(options.WriterBatchSize);
        if (batch.Count == 0) return 0;
        var rows = batch.Sum(m => m.Items);
        var gathering = Stopwatch.StartNew();
        while (rows < options.WriterBatchSize && gathering.Elapsed < options.WriterMaxWait && !stopping.IsCancellationRequested)
        {
            await DelayQuietly(TimeSpan.FromMilliseconds(Math.Min(20, (options.WriterMaxWait - gathering.Elapsed).TotalMilliseconds)), stopping);
            var more = await ClaimAsync(options.WriterBatchSize - rows);
            batch.AddRange(more);
            rows += more.Sum(m => m.Items);
        }

        var ids = batch.Select(m => m.Id).ToArray();
        try
        {
            // Not cancelled by shutdown: an insert whose answer we never read would be repeated by someone else anyway,
            // but finishing it spares the work; the HttpClient timeout bounds it.
            await writer.WriteAsync(batch.Select(m => m.Payload), CancellationToken.None);
        }
        catch (Exception e)
        {
            var attempts = batch.Max(m => m.Attempts) + 1;
            var delay = RetryBackoff.Delay(attempts, topic.RetryBaseDelay, topic.RetryMaxDelay, Random.Shared.NextDouble());
            logger.LogWarning(e, "event-stream: insert of {Count} events into ClickHouse failed (attempt {Attempt}); retrying in {Delay}",
                rows, attempts, delay);
            await RetryLaterAsync(ids, RetryBackoff.Describe(e), delay);
            return batch.Count;
        }
        await CompleteAsync(ids);
        return batch.Count;
    }

    /// <summary>
    /// The oldest free messages while their events add up to less than <paramref name="rows"/> (the last one may carry
    /// the total past it by less than one request's events), at least one.
    /// </summary>
    async Task<List<(long Id, string Payload, int Attempts, int Items)>> ClaimAsync(int rows)
    {
        await using var cmd = db.CreateCommand("""
            with c as (
                select message_id, item_count from topic_message
                 where topic = $1 and status = 'pending' and available_at <= now() and (lease_until is null or lease_until < now())
                 order by message_id limit $2
                 for update skip locked),
            w as (
                select message_id from (select message_id, sum(item_count) over (order by message_id) - item_count as before from c) x
                 where before < $2)
            update topic_message t set lease_owner = $3, lease_until = now() + $4
              from w where t.message_id = w.message_id
            returning t.message_id, t.payload::text, t.attempts, t.item_count
            """);
        cmd.Parameters.Add(new() { Value = Topics.EventStream });
        cmd.Parameters.Add(new() { Value = rows });
        cmd.Parameters.Add(new() { Value = consumerId });
        cmd.Parameters.Add(new() { Value = topic.LeaseDuration });
        var claimed = new List<(long, string, int, int)>();
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync()) claimed.Add((reader.GetInt64(0), reader.GetString(1), reader.GetInt32(2), reader.GetInt32(3)));
        return claimed;
    }

    async Task CompleteAsync(long[] ids)
    {
        await using var cmd = db.CreateCommand("delete from topic_message where message_id = any($1) and lease_owner = $2");
        cmd.Parameters.Add(new() { Value = ids });
        cmd.Parameters.Add(new() { Value = consumerId });
        var deleted = await cmd.ExecuteNonQueryAsync();
        if (deleted < ids.Length)
            logger.LogWarning("event-stream: {Lost} inserted message(s) had lost their lease; ClickHouse collapses the repeats", ids.Length - deleted);
    }

    async Task RetryLaterAsync(long[] ids, string error, TimeSpan delay)
    {
        await using var cmd = db.CreateCommand("""
            update topic_message set attempts = attempts + 1, last_error = $3, available_at = now() + $4,
                                     lease_owner = null, lease_until = null
             where message_id = any($1) and lease_owner = $2
            """);
        cmd.Parameters.Add(new() { Value = ids });
        cmd.Parameters.Add(new() { Value = consumerId });
        cmd.Parameters.Add(new() { Value = error });
        cmd.Parameters.Add(new() { Value = delay });
        await cmd.ExecuteNonQueryAsync();
    }

    static async Task DelayQuietly(TimeSpan delay, CancellationToken ct)
    {
        try { await Task.Delay(delay, ct); }
        catch (OperationCanceledException) { }
    }
}
