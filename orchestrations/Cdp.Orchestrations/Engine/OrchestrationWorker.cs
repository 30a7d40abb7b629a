using System.Collections.Concurrent;
using Cdp.Shared.Messaging;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using static Cdp.Orchestrations.Engine.OrchestrationStore;

namespace Cdp.Orchestrations.Engine;

/// <summary>A claimed row of orchestration_work.</summary>
sealed record WorkItem(long WorkId, string InstanceId, string Kind, string? Name, int? Seq, string? Input, int Generation);

/// <summary>
/// Runs the local engine: fires due timers, and claims orchestrator episodes and activity executions with
/// FOR UPDATE SKIP LOCKED under a lease (renewed while running, released on graceful stop), so several processes
/// share the work and a killed process's claims are taken over once their lease runs out. An instance has at most
/// one orchestrator row, so at most one episode runs per instance.
/// </summary>
public sealed class OrchestrationWorker : BackgroundService
{
    readonly IServiceProvider services;
    readonly OrchestrationRegistry registry;
    readonly NpgsqlDataSource db;
    readonly OrchestrationOptions options;
    readonly ILogger logger;
    readonly ConcurrentDictionary<long, Task> inFlight = new();
    // Activities see this token, cancelled only once the shutdown grace has run out, not when claiming stops.
    readonly CancellationTokenSource activityCancellation = new();

    public OrchestrationWorker(
        IServiceProvider services, OrchestrationRegistry registry, NpgsqlDataSource db, IOptions<OrchestrationOptions> options,
        ILogger<OrchestrationWorker> logger)
        : this(services, registry, db, options.Value, logger, null) { }

    internal OrchestrationWorker(
        IServiceProvider services, OrchestrationRegistry registry, NpgsqlDataSource db, OrchestrationOptions options,
        ILogger logger, string? workerId)
    {
        if (options.Errors().ToList() is { Count: > 0 } errors)
            throw new OptionsValidationException(OrchestrationOptions.Section, typeof(OrchestrationOptions), errors);
        this.services = services;
        this.registry = registry;
        this.db = db;
        this.options = options;
        this.logger = logger;
        WorkerId = workerId ?? $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}";
    }

    /// <summary>Written to lease_owner: machine, process and instance.</summary>
    public string WorkerId { get; }

    public override void Dispose()
    {
        base.Dispose();
        activityCancellation.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var failures = 0;
        var renewEvery = options.LeaseDuration / 3;
        var lastRenewal = DateTime.UtcNow;
        while (!stoppingToken.IsCancellationRequested)
        {
            var found = 0;
            try
            {
                found += await FireDueTimersAsync();
                var free = options.Concurrency - inFlight.Count;
                if (free > 0)
                    foreach (var item in await ClaimAsync(free))
                    {
                        found++;
                        Dispatch(item);
                    }
                if (DateTime.UtcNow - lastRenewal >= renewEvery)
                {
                    await RenewAsync();
                    lastRenewal = DateTime.UtcNow;
                }
                failures = 0;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                failures++;
                var delay = RetryBackoff.Delay(failures, options.PollInterval, TimeSpan.FromSeconds(30), Random.Shared.NextDouble());
                logger.LogError(ex, "Orchestration worker {Worker}: round failed ({Failures} in a row), retrying in {Delay}", WorkerId, failures, delay);
                await DelayQuietly(delay, stoppingToken);
                continue;
            }
            if (found == 0 || inFlight.Count >= options.Concurrency)
            {
                // Wake on the poll interval, or as soon as a slot frees up when all are busy.
                var wait = Task.Delay(found == 0 ? options.PollInterval : renewEvery, stoppingToken);
                await Task.WhenAny(inFlight.Values.Append(wait)).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
        await DrainOnStopAsync();
    }

    async Task DrainOnStopAsync()
    {
        using var grace = new CancellationTokenSource(options.ShutdownGrace);
        while (!inFlight.IsEmpty && !grace.IsCancellationRequested)
        {
            await Task.WhenAny(Task.WhenAll(inFlight.Values), Task.Delay(options.LeaseDuration / 3, grace.Token)).ContinueWith(_ => { }, TaskScheduler.Default);
            if (!inFlight.IsEmpty) await RenewAsync();
        }
        if (inFlight.IsEmpty) return;
        await activityCancellation.CancelAsync();
        var unfinished = inFlight.Keys.ToArray();
        logger.LogWarning("Orchestration worker {Worker}: {Count} work item(s) still running after the shutdown grace; releasing them", WorkerId, unfinished.Length);
        await ReleaseAsync(unfinished);
    }

    /// <summary>Claims ready orchestrator and activity rows whose lease is free or expired.</summary>
    internal async Task<List<WorkItem>> ClaimAsync(int max, string[]? kinds = null)
    {
        await using var cmd = db.CreateCommand("""
            with c as (
                select work_id from orchestration_work
                 where kind = any($4) and visible_at <= now() and (lease_until is null or lease_until < now())
                 order by visible_at limit $1
                 for update skip locked)
            update orchestration_work w set lease_owner = $2, lease_until = now() + $3
              from c where w.work_id = c.work_id
            returning w.work_id, w.instance_id, w.kind, w.name, w.seq, w.input::text, w.generation
            """);
        cmd.Parameters.Add(new() { Value = max });
        cmd.Parameters.Add(new() { Value = WorkerId });
        cmd.Parameters.Add(new() { Value = options.LeaseDuration });
        cmd.Parameters.Add(new() { Value = kinds ?? ["orchestrator", "activity"] });
        var items = new List<WorkItem>();
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            items.Add(new WorkItem(reader.GetInt64(0), reader.GetString(1), reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetInt32(4),
                reader.IsDBNull(5) ? null : reader.GetString(5), reader.GetInt32(6)));
        return items;
    }

    /// <summary>Turns due timer rows into TimerFired events, each in its own transaction with the poke.</summary>
    internal async Task<int> FireDueTimersAsync()
    {
        var due = new List<(long WorkId, string InstanceId)>();
        await using (var cmd = db.CreateCommand(
            "select work_id, instance_id from orchestration_work where kind = 'timer' and visible_at <= now() order by visible_at limit 100"))
        await using (var reader = await cmd.ExecuteReaderAsync())
            while (await reader.ReadAsync()) due.Add((reader.GetInt64(0), reader.GetString(1)));
        var fired = 0;
        foreach (var (workId, instanceId) in due)
        {
            await using var conn = await db.OpenConnectionAsync();
            await using var tx = await conn.BeginTransactionAsync();
            var status = await LockInstance(conn, instanceId);
            await using var take = new NpgsqlCommand("delete from orchestration_work where work_id = $1 returning seq", conn);
            take.Parameters.Add(new() { Value = workId });
            var seq = (int?)await take.ExecuteScalarAsync();
            if (seq is null) continue; // another worker fired it
            if (status is not null && !IsFinished(status))
            {
                await Append(conn, instanceId, EventKind.TimerFired, seq);
                await Poke(conn, instanceId);
            }
            await tx.CommitAsync();
            fired++;
        }
        return fired;
    }

    /// <summary>
    /// Runs a work item we hold the lease of in the background, handing off what it leads to (the instance's next
    /// episode after an activity, the activities an episode schedules) straight to this worker.
    /// </summary>
    void Dispatch(WorkItem item)
    {
        var task = Task.Run(() => ProcessAsync(item, handOff: true));
        inFlight[item.WorkId] = task;
        if (task.IsCompleted) inFlight.TryRemove(item.WorkId, out _); // finished before it was recorded
    }

    /// <summary>
    /// Runs one claimed item. With <paramref name="handOff"/> the next steps are leased to this worker in the same
    /// transaction that creates them and run at once, without a claim round trip or a poll (the hot path); their
    /// leases work like a claim's, so a killed process's hand-offs are taken over the same way.
    /// </summary>
    internal async Task ProcessAsync(WorkItem item, bool handOff = false)
    {
        try
        {
            var next = item.Kind == "orchestrator" ? await RunEpisodeAsync(item, handOff) : await RunActivityAsync(item, handOff);
            foreach (var step in next) Dispatch(step);
        }
        catch (Exception ex)
        {
            // Our own SQL, a lost connection or an orchestrator that cannot be resolved: give the item back a little
            // later, so it is tried again without spinning.
            logger.LogError(ex, "Orchestration worker {Worker}: {Kind} work {WorkId} of {InstanceId} failed; releasing it",
                WorkerId, item.Kind, item.WorkId, item.InstanceId);
            try { await ReleaseAsync([item.WorkId], TimeSpan.FromSeconds(1)); } catch (Exception release) { logger.LogWarning(release, "Release failed"); }
        }
        finally
        {
            inFlight.TryRemove(item.WorkId, out _);
        }
    }

    internal async Task<List<WorkItem>> RunEpisodeAsync(WorkItem item, bool handOff = false)
    {
        var next = new List<WorkItem>();
        // One round trip: lock the instance, check the lease is still ours, read the instance and its history.
        await using var commit = await db.OpenConnectionAsync();
        await using var tx = await commit.BeginTransactionAsync();
        string? status = null, name = null, input = null;
        long replayedUpto = 0;
        var generation = item.Generation;
        List<HistoryEvent> history;
        await using (var load = new NpgsqlBatch(commit)
        {
            BatchCommands =
            {
                new("select status, name, input::text, replayed_upto from orchestration_instance where instance_id = $1 for update")
                    { Parameters = { new() { Value = item.InstanceId } } },
                new("select generation from orchestration_work where work_id = $1 and lease_owner = $2 for update")
                    { Parameters = { new() { Value = item.WorkId }, new() { Value = WorkerId } } },
                new(HistorySql) { Parameters = { new() { Value = item.InstanceId } } },
            },
        })
        await using (var reader = await load.ExecuteReaderAsync())
        {
            if (await reader.ReadAsync())
            {
                status = reader.GetString(0);
                name = reader.GetString(1);
                input = reader.IsDBNull(2) ? null : reader.GetString(2);
                replayedUpto = reader.GetInt64(3);
            }
            await reader.NextResultAsync();
            var owned = await reader.ReadAsync();
            // The generation as of our lock: pokes before it are in the history read here.
            if (owned) generation = reader.GetInt32(0);
            await reader.NextResultAsync();
            history = await ReadHistory(reader);
            if (!owned)
            {
                logger.LogWarning("Orchestration {InstanceId}: episode lost its lease (or the instance was terminated); discarding it", item.InstanceId);
                return next;
            }
        }

        EpisodeResult? result = null;
        if (status is not null && !IsFinished(status))
        {
            if (registry.Orchestrator(name!) is not { } type)
                result = new(EpisodeOutcome.Failed, [], null, null,
                    new FailureDetails(typeof(InvalidOperationException).FullName!, $"No orchestrator named '{name}' is registered."));
            else
            {
                await using var scope = services.CreateAsyncScope();
                var orchestrator = (IOrchestrator)scope.ServiceProvider.GetRequiredService(type);
                result = Replayer.Run(orchestrator, item.InstanceId, input, history, replayedUpto);
            }
        }

        if (result is null || status is null || IsFinished(status))
        {
            await Exec(commit, "delete from orchestration_work where work_id = $1", item.WorkId);
            await tx.CommitAsync();
            return next;
        }

        // Activities this worker takes on itself, up to its free slots (this episode's own slot frees as it ends).
        var handOffSlots = handOff ? Math.Max(0, options.Concurrency - inFlight.Count + 1) : 0;
        // The episode's writes go in batches (one round trip each), flushed before the steps that read as they go.
        var writes = new List<NpgsqlBatchCommand>();
        var handed = new Dictionary<int, WorkItem>();
        async Task Flush()
        {
            if (writes.Count == 0) return;
            await using var batch = new NpgsqlBatch(commit);
            foreach (var write in writes) batch.BatchCommands.Add(write);
            writes.Clear();
            await using var reader = await batch.ExecuteReaderAsync();
            do
                while (await reader.ReadAsync()) // only the activity inserts return rows: work_id, seq
                    if (handed.TryGetValue(reader.GetInt32(1), out var activity)) next.Add(activity with { WorkId = reader.GetInt64(0) });
            while (await reader.NextResultAsync());
        }

        foreach (var action in result.Actions)
        {
            writes.Add(AppendCommand(item.InstanceId, action.Kind, action.Seq, action.Name, action.Input, fireAt: action.FireAt, childId: action.ChildId));
            switch (action.Kind)
            {
                case EventKind.ActivityScheduled:
                    var mine = handed.Count < handOffSlots;
                    if (mine) handed[action.Seq] = new WorkItem(0, item.InstanceId, "activity", action.Name, action.Seq, action.Input, 0);
                    writes.Add(new("""
                        insert into orchestration_work (instance_id, kind, name, seq, input, lease_owner, lease_until)
                        values ($1, 'activity', $2, $3, $4::jsonb, $5, case when $5 is null then null else now() + $6 end)
                        returning work_id, seq
                        """)
                    {
                        Parameters =
                        {
                            new() { Value = item.InstanceId }, new() { Value = action.Name! }, new() { Value = action.Seq }, Text(action.Input),
                            Text(mine ? WorkerId : null), new() { Value = options.LeaseDuration },
                        },
                    });
                    break;
                case EventKind.TimerCreated:
                    writes.Add(new("insert into orchestration_work (instance_id, kind, seq, visible_at) values ($1, 'timer', $2, $3)")
                    {
                        Parameters = { new() { Value = item.InstanceId }, new() { Value = action.Seq }, new() { Value = action.FireAt!.Value } },
                    });
                    break;
                case EventKind.SubOrchestrationScheduled:
                    await Flush();
                    await StartInstance(commit, action.ChildId!, action.Name!, action.Input, item.InstanceId, action.Seq);
                    break;
            }
        }

        var seen = history.Count == 0 ? 0 : history[^1].EventId;
        writes.Add(new("""
            update orchestration_instance set status = case when status = 'Pending' then 'Running' else status end,
                   custom_status = $2::jsonb, replayed_upto = greatest(replayed_upto, $3), updated_at = now()
             where instance_id = $1
            """)
        {
            Parameters = { new() { Value = item.InstanceId }, Text(result.CustomStatus), new() { Value = seen } },
        });
        if (result.Outcome is EpisodeOutcome.Completed or EpisodeOutcome.Failed)
        {
            await Flush();
            if (result.Outcome == EpisodeOutcome.Completed)
                await Finish(commit, item.InstanceId, "Completed", result.Output, null, result.CustomStatus, setCustomStatus: true);
            else
            {
                logger.LogWarning("Orchestration {InstanceId} failed: {Failure}", item.InstanceId, result.Failure);
                await Finish(commit, item.InstanceId, "Failed", null, result.Failure, result.CustomStatus, setCustomStatus: true);
            }
            next.Clear(); // Finish dropped the instance's pending work, handed-off activities included
        }

        // Done unless an event arrived meanwhile (generation moved): then leave the row, freed, for another episode.
        // The row is locked since the load, so the two statements below see the same generation: exactly one applies.
        var finished = result.Outcome != EpisodeOutcome.Blocked;
        writes.Add(new("update orchestration_work set lease_owner = null, lease_until = null where work_id = $1 and not ($2 or generation = $3)")
        {
            Parameters = { new() { Value = item.WorkId }, new() { Value = finished }, new() { Value = generation } },
        });
        writes.Add(new("delete from orchestration_work where work_id = $1 and ($2 or generation = $3)")
        {
            Parameters = { new() { Value = item.WorkId }, new() { Value = finished }, new() { Value = generation } },
        });
        await Flush();
        await tx.CommitAsync();
        return next;
    }

    internal async Task<List<WorkItem>> RunActivityAsync(WorkItem item, bool handOff = false)
    {
        var next = new List<WorkItem>();
        string? output = null;
        FailureDetails? failure = null;
        try
        {
            var type = registry.Activity(item.Name ?? "")
                ?? throw new InvalidOperationException($"No activity named '{item.Name}' is registered.");
            await using var scope = services.CreateAsyncScope();
            var activity = (IActivity)scope.ServiceProvider.GetRequiredService(type);
            output = await activity.RunAsync(item.Input, activityCancellation.Token);
        }
        catch (Exception ex)
        {
            failure = FailureDetails.From(ex);
            logger.LogWarning(ex, "Activity {Activity} (#{Seq}) of {InstanceId} failed", item.Name, item.Seq, item.InstanceId);
        }

        // The result is stored in the same transaction that completes the work item: exactly one of the
        // executions that raced for it (only after a lost lease) gets to report.
        await using var conn = await db.OpenConnectionAsync();
        await using var tx = await conn.BeginTransactionAsync();
        // One round trip: lock the instance (always first), take the work row if it is still ours.
        await using var take = new NpgsqlBatch(conn)
        {
            BatchCommands =
            {
                new("select status from orchestration_instance where instance_id = $1 for update") { Parameters = { new() { Value = item.InstanceId } } },
                new("delete from orchestration_work where work_id = $1 and lease_owner = $2")
                    { Parameters = { new() { Value = item.WorkId }, new() { Value = WorkerId } } },
            },
        };
        string? status = null;
        await using (var reader = await take.ExecuteReaderAsync())
        {
            if (await reader.ReadAsync()) status = reader.GetString(0);
            while (await reader.NextResultAsync()) { }
        }
        if (take.BatchCommands[1].RecordsAffected == 0)
        {
            logger.LogWarning("Activity {Activity} (#{Seq}) of {InstanceId}: lease lost or instance ended; result discarded", item.Name, item.Seq, item.InstanceId);
            return next;
        }
        if (status is not null && !IsFinished(status))
        {
            if (failure is null) await Append(conn, item.InstanceId, EventKind.ActivityCompleted, item.Seq, item.Name, output);
            else await Append(conn, item.InstanceId, EventKind.ActivityFailed, item.Seq, item.Name, failure: failure);
            if (!handOff) await Poke(conn, item.InstanceId);
            else if (await PokeAndLease(conn, item.InstanceId, WorkerId, options.LeaseDuration) is { } episode)
                next.Add(episode);
        }
        await tx.CommitAsync();
        return next;
    }

    async Task RenewAsync()
    {
        var ids = inFlight.Keys.ToArray();
        if (ids.Length == 0) return;
        try
        {
            await using var cmd = db.CreateCommand(
                "update orchestration_work set lease_until = now() + $3 where work_id = any($1) and lease_owner = $2");
            cmd.Parameters.Add(new() { Value = ids });
            cmd.Parameters.Add(new() { Value = WorkerId });
            cmd.Parameters.Add(new() { Value = options.LeaseDuration });
            await cmd.ExecuteNonQueryAsync();
        }
        catch (Exception ex)
        {
            // Keep working: the next renewal may succeed before the lease runs out.
            logger.LogWarning(ex, "Orchestration worker {Worker}: lease renewal failed", WorkerId);
        }
    }

    async Task ReleaseAsync(long[] ids, TimeSpan? retryAfter = null)
    {
        await using var cmd = db.CreateCommand(
            "update orchestration_work set lease_owner = null, lease_until = null, visible_at = greatest(visible_at, now() + $3) " +
            "where work_id = any($1) and lease_owner = $2");
        cmd.Parameters.Add(new() { Value = ids });
        cmd.Parameters.Add(new() { Value = WorkerId });
        cmd.Parameters.Add(new() { Value = retryAfter ?? TimeSpan.Zero });
        await cmd.ExecuteNonQueryAsync();
    }

    static async Task DelayQuietly(TimeSpan delay, CancellationToken ct)
    {
        try { await Task.Delay(delay, ct); }
        catch (OperationCanceledException) { }
    }
}
