using System.Collections.Concurrent;
using System.Threading.Channels;
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
    // Results of activities that ran here, waiting for the record loop to record them a batch at a time.
    readonly Channel<Completion> completions = Channel.CreateUnbounded<Completion>(new() { SingleReader = true });
    const int MaxRecordBatch = 64;
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
        var recording = Task.Run(RecordLoopAsync, CancellationToken.None);
        var loop = new LeasedWorkLoop($"Orchestration worker {WorkerId}", options.PollInterval, logger)
        {
            Wake = signal.Work,
            UntilDue = UntilDueAsync,
            Renew = RenewAsync,
            RenewEvery = options.LeaseDuration / 3,
        };
        await loop.RunAsync(RoundAsync, stoppingToken);
        await DrainOnStopAsync();
        completions.Writer.TryComplete(); // results that come later record themselves
        await recording;
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
        var claimed = await ClaimAsync(free);
        // A lease of our own that ran out before its renewal (a slow commit on a busy machine) is claimed again: the
        // claim renewed it; the item already runs here, so it is not started twice.
        claimed.RemoveAll(w => inFlight.ContainsKey(w.WorkId));
        foreach (var activity in claimed.Where(w => w.Kind == "activity")) Dispatch(activity);
        if (claimed.Where(w => w.Kind == "orchestrator").ToList() is { Count: > 0 } episodes) DispatchEpisodes(episodes);
        return found + claimed.Count;
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

    /// <summary>Runs claimed episodes in the background, together in one transaction, handing off what they schedule.</summary>
    void DispatchEpisodes(List<WorkItem> episodes)
    {
        var task = Task.Run(async () =>
        {
            try
            {
                foreach (var step in await RunStepsAsync([], episodes, handOff: true)) Dispatch(step);
            }
            catch (Exception ex)
            {
                // A deadlock with another transaction, a lost connection: each episode runs on its own instead.
                logger.LogWarning(ex, "Orchestration worker {Worker}: running {Count} episode(s) together failed; running them one by one",
                    WorkerId, episodes.Count);
                await Task.WhenAll(episodes.Select(episode => ProcessAsync(episode, handOff: true)));
            }
            finally
            {
                foreach (var episode in episodes) inFlight.TryRemove(episode.WorkId, out _);
            }
        });
        foreach (var episode in episodes) inFlight[episode.WorkId] = task;
        if (task.IsCompleted) foreach (var episode in episodes) inFlight.TryRemove(episode.WorkId, out _); // finished before it was recorded
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
            List<WorkItem> next;
            if (item.Kind == "orchestrator") next = await RunEpisodeAsync(item, handOff);
            else if (!handOff) next = await RunActivityAsync(item);
            else
            {
                var (output, failure) = await ExecuteActivityAsync(item);
                var completion = new Completion(item, output, failure);
                // Recorded with the others finishing now (the record loop dispatches what follows), or on its own.
                next = completions.Writer.TryWrite(completion) && await completion.Recorded.Task ? [] : await RunStepsAsync([completion], [], handOff: true);
            }
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
        // Activities this worker takes on itself, up to its free slots (this episode's own slot frees as it ends).
        var writes = new EpisodeWrites(commit, handOff ? options.Concurrency - inFlight.Count + 1 : 0);
        await EpisodeAsync(writes, item.InstanceId, instance, history, finished =>
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
        await writes.FlushAsync();
        await tx.CommitAsync();
        // Left for another episode, or other work created: claim it now, not at the next poll.
        if (writes.Wake || release.RecordsAffected > 0) signal.Work.Pulse();
        return writes.Next;
    }

    sealed record Instance(string Status, string Name, string? Input, long ReplayedUpto);

    static NpgsqlBatchCommand LoadInstanceCommand(string instanceId) =>
        new("select status, name, input::text, replayed_upto from orchestration_instance where instance_id = $1 for update")
            { Parameters = { new() { Value = instanceId } } };

    static async Task<Instance?> ReadInstance(NpgsqlDataReader reader) => await reader.ReadAsync() ? InstanceAt(reader, 0) : null;

    static Instance InstanceAt(NpgsqlDataReader reader, int i) =>
        new(reader.GetString(i), reader.GetString(i + 1), reader.IsDBNull(i + 2) ? null : reader.GetString(i + 2), reader.GetInt64(i + 3));

    /// <summary>
    /// The writes of the episodes one transaction runs, queued and sent in as few round trips as the actions allow;
    /// the activities handed off to this worker (up to its free slots) come back in <see cref="Next"/>.
    /// </summary>
    sealed class EpisodeWrites(NpgsqlConnection connection, int handOffSlots)
    {
        readonly List<NpgsqlBatchCommand> pending = [];
        readonly Dictionary<(string InstanceId, int Seq), WorkItem> handed = [];

        public NpgsqlConnection Connection => connection;
        public List<WorkItem> Next { get; } = [];
        /// <summary>Work was created that no one was handed: the caller wakes this process's loop after the commit.</summary>
        public bool Wake { get; set; }

        public void Add(NpgsqlBatchCommand command) => pending.Add(command);

        public bool TryHandOff(WorkItem activity)
        {
            if (handed.Count + Next.Count >= handOffSlots) return false;
            handed[(activity.InstanceId, activity.Seq!.Value)] = activity;
            return true;
        }

        /// <summary>Forgets what was handed off for an instance that has ended (its work rows are gone).</summary>
        public void Drop(string instanceId) => Next.RemoveAll(w => w.InstanceId == instanceId);

        public async Task FlushAsync()
        {
            if (pending.Count == 0) return;
            await using var batch = new NpgsqlBatch(connection);
            foreach (var write in pending) batch.BatchCommands.Add(write);
            pending.Clear();
            await using var reader = await batch.ExecuteReaderAsync();
            do
                while (await reader.ReadAsync()) // only the activity inserts return rows: work_id, instance_id, seq
                    if (handed.Remove((reader.GetString(1), reader.GetInt32(2)), out var activity)) Next.Add(activity with { WorkId = reader.GetInt64(0) });
            while (await reader.NextResultAsync());
        }
    }

    /// <summary>
    /// Replays the instance (locked by the transaction of <paramref name="writes"/>) against <paramref name="history"/>
    /// and queues what the episode did, plus <paramref name="settle"/>'s statements for the orchestrator row (given
    /// whether the instance is done with it). The caller flushes and commits.
    /// </summary>
    async Task EpisodeAsync(
        EpisodeWrites writes, string instanceId, Instance? instance, List<HistoryEvent> history, Func<bool, NpgsqlBatchCommand[]> settle)
    {
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
            foreach (var command in settle(true)) writes.Add(command);
            return;
        }

        foreach (var action in result.Actions)
        {
            writes.Add(AppendCommand(instanceId, action.Kind, action.Seq, action.Name, action.Input, fireAt: action.FireAt, childId: action.ChildId));
            switch (action.Kind)
            {
                case EventKind.ActivityScheduled:
                    var mine = writes.TryHandOff(new WorkItem(0, instanceId, "activity", action.Name, action.Seq, action.Input, 0));
                    if (!mine) writes.Wake = true;
                    writes.Add(new("""
                        insert into orchestration_work (instance_id, kind, name, seq, input, lease_owner, lease_until)
                        values ($1, 'activity', $2, $3, $4::jsonb, $5, case when $5 is null then null else clock_timestamp() + $6 end)
                        returning work_id, instance_id, seq
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
                    await writes.FlushAsync();
                    await StartInstance(writes.Connection, action.ChildId!, action.Name!, action.Input, instanceId, action.Seq);
                    writes.Wake = true;
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
            await writes.FlushAsync();
            if (result.Outcome == EpisodeOutcome.Failed) logger.LogWarning("Orchestration {InstanceId} failed: {Failure}", instanceId, result.Failure);
            var parentPoked = result.Outcome == EpisodeOutcome.Completed
                ? await Finish(writes.Connection, instanceId, "Completed", result.Output, null, result.CustomStatus, setCustomStatus: true)
                : await Finish(writes.Connection, instanceId, "Failed", null, result.Failure, result.CustomStatus, setCustomStatus: true);
            if (parentPoked) writes.Wake = true;
            writes.Drop(instanceId); // Finish dropped the instance's pending work, handed-off activities included
        }
        foreach (var command in settle(result.Outcome != EpisodeOutcome.Blocked)) writes.Add(command);
    }

    /// <summary>Runs the activity's code; its exception is its failure.</summary>
    async Task<(string? Output, FailureDetails? Failure)> ExecuteActivityAsync(WorkItem item)
    {
        try
        {
            var type = registry.Activity(item.Name ?? "")
                ?? throw new InvalidOperationException($"No activity named '{item.Name}' is registered.");
            await using var scope = services.CreateAsyncScope();
            var activity = (IActivity)scope.ServiceProvider.GetRequiredService(type);
            return (await activity.RunAsync(item.Input, activityCancellation.Token), null);
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Activity {Activity} (#{Seq}) of {InstanceId} failed", item.Name, item.Seq, item.InstanceId);
            return (null, FailureDetails.From(ex));
        }
    }

    /// <summary>Runs an activity and records its result on its own (see <see cref="RunStepsAsync"/>).</summary>
    internal async Task<List<WorkItem>> RunActivityAsync(WorkItem item, bool handOff = false)
    {
        var (output, failure) = await ExecuteActivityAsync(item);
        return await RunStepsAsync([new Completion(item, output, failure)], [], handOff);
    }

    /// <summary>An activity's result, waiting to be recorded.</summary>
    sealed record Completion(WorkItem Item, string? Output, FailureDetails? Failure)
    {
        /// <summary>True once recorded by a batch; false when the batch failed and the activity records itself.</summary>
        public TaskCompletionSource<bool> Recorded { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>
    /// Records activity results and runs claimed episodes in one transaction. Each result is recorded in the same
    /// statement that completes its work item (exactly one of the executions that raced for it, only after a lost
    /// lease, gets to report). With <paramref name="handOff"/>, each instance with a result whose episode is not
    /// running or claimed elsewhere runs its next episode right there (the hot path: results and next steps commit
    /// together, and the activities those steps schedule are handed to this worker); otherwise the instance is poked
    /// for an episode. Three round trips in all, however many steps, unless an episode starts a sub-orchestration or
    /// ends its instance.
    /// </summary>
    async Task<List<WorkItem>> RunStepsAsync(IReadOnlyList<Completion> completions, IReadOnlyList<WorkItem> episodes, bool handOff)
    {
        var ids = completions.Select(c => c.Item.InstanceId).Concat(episodes.Select(e => e.InstanceId)).Distinct().ToArray();
        await using var conn = await db.OpenConnectionAsync();
        await using var tx = await conn.BeginTransactionAsync();
        var instances = new Dictionary<string, Instance>();
        var recorded = new HashSet<(string InstanceId, int Seq)>();
        var episodeRows = new Dictionary<string, (long WorkId, bool Free)>();
        var claimed = new HashSet<long>();
        var histories = ids.ToDictionary(id => id, _ => new List<HistoryEvent>());
        // One round trip: lock the instances (always first, in one order), take the work rows still ours and record
        // the results of instances still running, lock their orchestrator rows (noting which claimed episodes are still
        // ours), read their histories.
        await using (var load = new NpgsqlBatch(conn)
        {
            BatchCommands =
            {
                new("""
                    select instance_id, status, name, input::text, replayed_upto from orchestration_instance
                     where instance_id = any($1) order by instance_id for update
                    """) { Parameters = { new() { Value = ids } } },
                new($"""
                    with r as (
                        select * from unnest($1::bigint[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[], $7::text[], $8::text[])
                                   as r(work_id, instance_id, kind, seq, name, payload, error_type, error_message)),
                    taken as (delete from orchestration_work w using r where w.work_id = r.work_id and w.lease_owner = $9 returning w.work_id)
                    insert into orchestration_history (instance_id, kind, seq, name, payload, error_type, error_message)
                    select r.instance_id, r.kind, r.seq, r.name, r.payload::jsonb, r.error_type, r.error_message
                      from r join taken on taken.work_id = r.work_id
                     where exists (select from orchestration_instance i where i.instance_id = r.instance_id and i.status not in ({FinishedStatuses}))
                     order by r.work_id
                    returning instance_id, seq
                    """)
                {
                    Parameters =
                    {
                        new() { Value = completions.Select(c => c.Item.WorkId).ToArray() },
                        new() { Value = completions.Select(c => c.Item.InstanceId).ToArray() },
                        new() { Value = completions.Select(c => c.Failure is null ? EventKind.ActivityCompleted : EventKind.ActivityFailed).ToArray() },
                        new() { Value = completions.Select(c => c.Item.Seq).ToArray() },
                        new() { Value = completions.Select(c => c.Item.Name).ToArray() },
                        new() { Value = completions.Select(c => c.Failure is null ? c.Output : null).ToArray() },
                        new() { Value = completions.Select(c => c.Failure?.ErrorType).ToArray() },
                        new() { Value = completions.Select(c => c.Failure?.ErrorMessage).ToArray() },
                        new() { Value = WorkerId },
                    },
                },
                new("""
                    select instance_id, work_id, lease_owner is null or lease_until < now(), lease_owner = $2 and work_id = any($3)
                      from orchestration_work
                     where instance_id = any($1) and kind = 'orchestrator' order by instance_id for update
                    """) { Parameters = { new() { Value = ids }, new() { Value = WorkerId }, new() { Value = episodes.Select(e => e.WorkId).ToArray() } } },
                new(HistoryOfManySql) { Parameters = { new() { Value = ids } } },
            },
        })
        await using (var reader = await load.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync()) instances[reader.GetString(0)] = InstanceAt(reader, 1);
            await reader.NextResultAsync();
            while (await reader.ReadAsync()) recorded.Add((reader.GetString(0), reader.GetInt32(1)));
            await reader.NextResultAsync();
            while (await reader.ReadAsync())
            {
                episodeRows[reader.GetString(0)] = (reader.GetInt64(1), reader.GetBoolean(2));
                if (!reader.IsDBNull(3) && reader.GetBoolean(3)) claimed.Add(reader.GetInt64(1));
            }
            await reader.NextResultAsync();
            while (await reader.ReadAsync()) histories[reader.GetString(HistoryEventColumns)].Add(HistoryEventAt(reader));
        }
        foreach (var lost in episodes.Where(e => !claimed.Contains(e.WorkId)))
            logger.LogWarning("Orchestration {InstanceId}: episode lost its lease (or the instance was terminated); discarding it", lost.InstanceId);

        // The steps' own slots free as they end.
        var writes = new EpisodeWrites(conn, handOff ? options.Concurrency - inFlight.Count + completions.Count + episodes.Count : 0);
        foreach (var id in ids)
        {
            var hasRow = episodeRows.TryGetValue(id, out var row);
            var ours = hasRow && claimed.Contains(row.WorkId);
            if (!ours && !recorded.Any(r => r.InstanceId == id)) continue;
            // Holding the instance's lock since before its history was read, no poke can come in between: the
            // episode sees every event, and its row (ours, or free) is done with.
            if (!ours && (!handOff || hasRow && !row.Free))
            {
                // An episode runs or is claimed elsewhere (the poke moves its generation, so it runs again), or we were
                // asked only to record: leave the next episode to a claim.
                writes.Add(PokeCommand(id));
                writes.Wake |= handOff;
                continue;
            }
            await EpisodeAsync(writes, id, instances.GetValueOrDefault(id), histories[id], _ => episodeRows.TryGetValue(id, out var done)
                ? [new("delete from orchestration_work where work_id = $1") { Parameters = { new() { Value = done.WorkId } } }]
                : []);
        }
        await writes.FlushAsync();
        await tx.CommitAsync();
        foreach (var lost in completions.Where(c => !recorded.Contains((c.Item.InstanceId, c.Item.Seq!.Value))))
            logger.LogWarning("Activity {Activity} (#{Seq}) of {InstanceId}: lease lost or instance ended; result discarded",
                lost.Item.Name, lost.Item.Seq, lost.Item.InstanceId);
        if (writes.Wake) signal.Work.Pulse();
        return writes.Next;
    }

    /// <summary>
    /// Records the results of activities as they finish, a batch per transaction: those that finish while one batch
    /// commits go in the next (group commit, without waiting on purpose).
    /// </summary>
    async Task RecordLoopAsync()
    {
        var batch = new List<Completion>();
        while (await completions.Reader.WaitToReadAsync())
        {
            while (batch.Count < MaxRecordBatch && completions.Reader.TryRead(out var completion)) batch.Add(completion);
            var recorded = false;
            try
            {
                foreach (var step in await RunStepsAsync(batch, [], handOff: true)) Dispatch(step);
                recorded = true;
            }
            catch (Exception ex)
            {
                // A deadlock with another transaction, a lost connection: each result is recorded on its own instead.
                logger.LogWarning(ex, "Orchestration worker {Worker}: recording {Count} activity result(s) together failed; recording them one by one",
                    WorkerId, batch.Count);
            }
            foreach (var completion in batch) completion.Recorded.TrySetResult(recorded);
            batch.Clear();
        }
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
