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
    readonly OrchestrationSignal signal;
    readonly ConcurrentDictionary<long, Task> inFlight = new();
    // Activities see this token, cancelled only once the shutdown grace has run out, not when claiming stops.
    readonly CancellationTokenSource activityCancellation = new();

    public OrchestrationWorker(
        IServiceProvider services, OrchestrationRegistry registry, NpgsqlDataSource db, IOptions<OrchestrationOptions> options,
        ILogger<OrchestrationWorker> logger, OrchestrationSignal signal)
        : this(services, registry, db, options.Value, logger, null, signal) { }

    internal OrchestrationWorker(
        IServiceProvider services, OrchestrationRegistry registry, NpgsqlDataSource db, OrchestrationOptions options,
        ILogger logger, string? workerId, OrchestrationSignal? signal = null)
    {
        if (options.Errors().ToList() is { Count: > 0 } errors)
            throw new OptionsValidationException(OrchestrationOptions.Section, typeof(OrchestrationOptions), errors);
        this.services = services;
        this.registry = registry;
        this.db = db;
        this.options = options;
        this.logger = logger;
        this.signal = signal ?? services.GetService<OrchestrationSignal>() ?? new OrchestrationSignal();
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
        // Work this process creates pulses the signal directly; work another process creates arrives by NOTIFY.
        using var listening = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var listener = WorkSignal.ListenAsync(db, OrchestrationSignal.Channel, signal.Work, logger, listening.Token);
        var loop = new LeasedWorkLoop($"Orchestration worker {WorkerId}", options.PollInterval, logger)
        {
            Wake = signal.Work,
            UntilDue = UntilDueAsync,
            Renew = RenewAsync,
            RenewEvery = options.LeaseDuration / 3,
        };
        await loop.RunAsync(RoundAsync, stoppingToken);
        await DrainOnStopAsync();
        await listening.CancelAsync();
        await listener;
    }

    /// <summary>Fires due timers and claims up to the free slots; with every slot busy, waits for one to free first.</summary>
    async Task<int> RoundAsync(CancellationToken stopping)
    {
        var found = await FireDueTimersAsync();
        var free = options.Concurrency - inFlight.Count;
        if (free <= 0)
        {
            await Task.WhenAny(inFlight.Values.Append(Task.Delay(options.LeaseDuration / 3, stopping))).ContinueWith(_ => { }, TaskScheduler.Default);
            return 1; // look again at once
        }
        foreach (var item in await ClaimAsync(free))
        {
            found++;
            Dispatch(item);
        }
        return found;
    }

    /// <summary>
    /// When work no signal announces becomes due: a timer, a retry released for later, a lease of a dead worker
    /// running out. Asked only when a round found nothing.
    /// </summary>
    async Task<TimeSpan?> UntilDueAsync(CancellationToken stopping)
    {
        await using var cmd = db.CreateCommand("""
            select extract(epoch from min(case when lease_owner is null then visible_at else lease_until end) - now())::float8
              from orchestration_work
            """);
        var seconds = await cmd.ExecuteScalarAsync(stopping);
        // Never less than a few milliseconds: a row another worker has just locked must not make us spin.
        return seconds is double s ? TimeSpan.FromSeconds(Math.Max(s, 0.005)) : null;
    }

    async Task DrainOnStopAsync()
    {
        var finished = await LeasedWorkLoop.FinishAsync(
            () => inFlight.IsEmpty ? Task.CompletedTask : Task.WhenAll(inFlight.Values), options.LeaseDuration / 3, RenewAsync,
            new CancellationToken(canceled: true), options.ShutdownGrace);
        if (finished && inFlight.IsEmpty) return;
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
        // One round trip: lock the instance, check the lease is still ours, read the instance and its history.
        await using var commit = await db.OpenConnectionAsync();
        await using var tx = await commit.BeginTransactionAsync();
        Instance? instance;
        var generation = item.Generation;
        List<HistoryEvent> history;
        await using (var load = new NpgsqlBatch(commit)
        {
            BatchCommands =
            {
                LoadInstanceCommand(item.InstanceId),
                new("select generation from orchestration_work where work_id = $1 and lease_owner = $2 for update")
                    { Parameters = { new() { Value = item.WorkId }, new() { Value = WorkerId } } },
                new(HistorySql) { Parameters = { new() { Value = item.InstanceId } } },
            },
        })
        await using (var reader = await load.ExecuteReaderAsync())
        {
            instance = await ReadInstance(reader);
            await reader.NextResultAsync();
            var owned = await reader.ReadAsync();
            // The generation as of our lock: pokes before it are in the history read here.
            if (owned) generation = reader.GetInt32(0);
            await reader.NextResultAsync();
            history = await ReadHistory(reader);
            if (!owned)
            {
                logger.LogWarning("Orchestration {InstanceId}: episode lost its lease (or the instance was terminated); discarding it", item.InstanceId);
                return [];
            }
        }

        // Done unless an event arrived meanwhile (generation moved): then leave the row, freed, for another episode.
        // The row is locked since the load, so the two statements see the same generation: exactly one applies.
        var release = new NpgsqlBatchCommand(
            "update orchestration_work set lease_owner = null, lease_until = null where work_id = $1 and not ($2 or generation = $3)");
        var (next, wake) = await RunEpisodeInAsync(commit, item.InstanceId, instance, history, handOff, finished =>
        {
            release.Parameters.Add(new() { Value = item.WorkId });
            release.Parameters.Add(new() { Value = finished });
            release.Parameters.Add(new() { Value = generation });
            return
            [
                release,
                new("delete from orchestration_work where work_id = $1 and ($2 or generation = $3)")
                    { Parameters = { new() { Value = item.WorkId }, new() { Value = finished }, new() { Value = generation } } },
            ];
        });
        await tx.CommitAsync();
        // Left for another episode, or other work created: claim it now, not at the next poll.
        if (wake || release.RecordsAffected > 0) signal.Work.Pulse();
        return next;
    }

    sealed record Instance(string Status, string Name, string? Input, long ReplayedUpto);

    static NpgsqlBatchCommand LoadInstanceCommand(string instanceId) =>
        new("select status, name, input::text, replayed_upto from orchestration_instance where instance_id = $1 for update")
            { Parameters = { new() { Value = instanceId } } };

    static async Task<Instance?> ReadInstance(NpgsqlDataReader reader) => await reader.ReadAsync()
        ? new Instance(reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.GetInt64(3))
        : null;

    /// <summary>
    /// Replays the instance (locked by <paramref name="commit"/>'s transaction) against <paramref name="history"/> and
    /// writes what the episode did, plus <paramref name="settle"/>'s statements for the orchestrator row (given whether
    /// the instance is done with it), in as few round trips as the actions allow. Returns the activities handed off
    /// to this worker, and whether other work was created that this process should be woken for; the caller commits.
    /// </summary>
    async Task<(List<WorkItem> Next, bool Wake)> RunEpisodeInAsync(
        NpgsqlConnection commit, string instanceId, Instance? instance, List<HistoryEvent> history, bool handOff,
        Func<bool, NpgsqlBatchCommand[]> settle)
    {
        var next = new List<WorkItem>();
        EpisodeResult? result = null;
        if (instance is not null && !IsFinished(instance.Status))
        {
            if (registry.Orchestrator(instance.Name) is not { } type)
                result = new(EpisodeOutcome.Failed, [], null, null,
                    new FailureDetails(typeof(InvalidOperationException).FullName!, $"No orchestrator named '{instance.Name}' is registered."));
            else
            {
                await using var scope = services.CreateAsyncScope();
                var orchestrator = (IOrchestrator)scope.ServiceProvider.GetRequiredService(type);
                result = Replayer.Run(orchestrator, instanceId, instance.Input, history, instance.ReplayedUpto);
            }
        }

        if (result is null)
        {
            await using var drop = new NpgsqlBatch(commit);
            foreach (var command in settle(true)) drop.BatchCommands.Add(command);
            await drop.ExecuteNonQueryAsync();
            return (next, false);
        }

        // Activities this worker takes on itself, up to its free slots (the slot of the item running this frees as it ends).
        var handOffSlots = handOff ? Math.Max(0, options.Concurrency - inFlight.Count + 1) : 0;
        // The episode's writes go in batches (one round trip each), flushed before the steps that read as they go.
        var writes = new List<NpgsqlBatchCommand>();
        var handed = new Dictionary<int, WorkItem>();
        var wakeOthers = false;
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
            writes.Add(AppendCommand(instanceId, action.Kind, action.Seq, action.Name, action.Input, fireAt: action.FireAt, childId: action.ChildId));
            switch (action.Kind)
            {
                case EventKind.ActivityScheduled:
                    var mine = handed.Count < handOffSlots;
                    if (mine) handed[action.Seq] = new WorkItem(0, instanceId, "activity", action.Name, action.Seq, action.Input, 0);
                    else wakeOthers = true;
                    writes.Add(new("""
                        insert into orchestration_work (instance_id, kind, name, seq, input, lease_owner, lease_until)
                        values ($1, 'activity', $2, $3, $4::jsonb, $5, case when $5 is null then null else now() + $6 end)
                        returning work_id, seq
                        """)
                    {
                        Parameters =
                        {
                            new() { Value = instanceId }, new() { Value = action.Name! }, new() { Value = action.Seq }, Text(action.Input),
                            Text(mine ? WorkerId : null), new() { Value = options.LeaseDuration },
                        },
                    });
                    break;
                case EventKind.TimerCreated:
                    writes.Add(new("insert into orchestration_work (instance_id, kind, seq, visible_at) values ($1, 'timer', $2, $3)")
                    {
                        Parameters = { new() { Value = instanceId }, new() { Value = action.Seq }, new() { Value = action.FireAt!.Value } },
                    });
                    break;
                case EventKind.SubOrchestrationScheduled:
                    await Flush();
                    await StartInstance(commit, action.ChildId!, action.Name!, action.Input, instanceId, action.Seq);
                    wakeOthers = true;
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
            Parameters = { new() { Value = instanceId }, Text(result.CustomStatus), new() { Value = seen } },
        });
        if (result.Outcome is EpisodeOutcome.Completed or EpisodeOutcome.Failed)
        {
            await Flush();
            if (result.Outcome == EpisodeOutcome.Completed)
                wakeOthers |= await Finish(commit, instanceId, "Completed", result.Output, null, result.CustomStatus, setCustomStatus: true);
            else
            {
                logger.LogWarning("Orchestration {InstanceId} failed: {Failure}", instanceId, result.Failure);
                wakeOthers |= await Finish(commit, instanceId, "Failed", null, result.Failure, result.CustomStatus, setCustomStatus: true);
            }
            next.Clear(); // Finish dropped the instance's pending work, handed-off activities included
        }
        writes.AddRange(settle(result.Outcome != EpisodeOutcome.Blocked));
        await Flush();
        // Work not handed to us (a child's or a parent's episode, activities beyond our slots) waits for a claim: the
        // caller wakes this process's loop once it has committed.
        return (next, wakeOthers);
    }

    /// <summary>
    /// Runs an activity, then in one transaction records its result and, when no episode of the instance is running
    /// or claimed elsewhere, runs the instance's next episode right there (the hot path: the result and the next
    /// step commit together, and the activities that step schedules are handed to this worker). Without
    /// <paramref name="handOff"/> it only records the result and asks for an episode.
    /// </summary>
    internal async Task<List<WorkItem>> RunActivityAsync(WorkItem item, bool handOff = false)
    {
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
        // One round trip: lock the instance (always first); take the work row if it is still ours and record the
        // result if the instance still runs; lock the instance's orchestrator row, if any; read the history.
        var record = new NpgsqlBatchCommand($"""
            with taken as (delete from orchestration_work where work_id = $2 and lease_owner = $3 returning instance_id)
            insert into orchestration_history (instance_id, kind, seq, name, payload, error_type, error_message)
            select taken.instance_id, $4, $5, $6, $7::jsonb, $8, $9 from taken
             where exists (select from orchestration_instance i
                            where i.instance_id = taken.instance_id and i.status not in ({FinishedStatuses}))
            """)
        {
            Parameters =
            {
                new() { Value = item.InstanceId }, new() { Value = item.WorkId }, new() { Value = WorkerId },
                new() { Value = failure is null ? EventKind.ActivityCompleted : EventKind.ActivityFailed },
                new() { Value = (object?)item.Seq ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer },
                Text(item.Name), Text(failure is null ? output : null), Text(failure?.ErrorType), Text(failure?.ErrorMessage),
            },
        };
        Instance? instance;
        (long WorkId, bool Free)? episodeRow = null;
        List<HistoryEvent> history;
        await using (var take = new NpgsqlBatch(conn)
        {
            BatchCommands =
            {
                LoadInstanceCommand(item.InstanceId),
                record,
                new("""
                    select work_id, lease_owner is null or lease_until < now() from orchestration_work
                     where instance_id = $1 and kind = 'orchestrator' for update
                    """) { Parameters = { new() { Value = item.InstanceId } } },
                new(HistorySql) { Parameters = { new() { Value = item.InstanceId } } },
            },
        })
        await using (var reader = await take.ExecuteReaderAsync())
        {
            instance = await ReadInstance(reader);
            await reader.NextResultAsync(); // past the insert, which returns no result set, to the orchestrator row
            if (await reader.ReadAsync()) episodeRow = (reader.GetInt64(0), reader.GetBoolean(1));
            await reader.NextResultAsync();
            history = await ReadHistory(reader);
        }
        if (record.RecordsAffected == 0)
        {
            await tx.CommitAsync(); // the row, if the instance has ended meanwhile
            logger.LogWarning("Activity {Activity} (#{Seq}) of {InstanceId}: lease lost or instance ended; result discarded", item.Name, item.Seq, item.InstanceId);
            return [];
        }

        if (!handOff || episodeRow is { Free: false })
        {
            // An episode runs or is claimed elsewhere (its generation moves, so it runs again), or we were asked only to
            // record: leave the next episode to a claim.
            await Poke(conn, item.InstanceId);
            await tx.CommitAsync();
            if (handOff) signal.Work.Pulse();
            return [];
        }

        var (next, wake) = await RunEpisodeInAsync(conn, item.InstanceId, instance, history, handOff: true, _ => episodeRow is { } row
            ? [new("delete from orchestration_work where work_id = $1") { Parameters = { new() { Value = row.WorkId } } }]
            : []);
        await tx.CommitAsync();
        if (wake) signal.Work.Pulse();
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
}
