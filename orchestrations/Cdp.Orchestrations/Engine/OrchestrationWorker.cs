using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using Cdp.Shared.Messaging;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
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
    // Every work item whose lease we hold (renewed while here), with the task that ends when it is settled.
    readonly ConcurrentDictionary<long, Task> inFlight = new();
    // Activity results and claimed episodes, waiting for the record loop to run them a batch per transaction.
    readonly Channel<Step> steps = Channel.CreateUnbounded<Step>(new() { SingleReader = true });
    const int MaxRecordBatch = 64;
    // Batches committing at once: while one waits for its commit the next is built and sent (instances are locked in
    // one order, so two batches that share an instance queue on its lock and never deadlock).
    const int BatchesInFlight = 2;
    // Activities executing (the slots of Concurrency); a finished activity waiting to be recorded holds none.
    int running;
    // Set when a batch left activities for a claim, cleared when a claim finds no more: while set, batches claim the
    // oldest ready activities instead of taking their own, so those left waiting are not overtaken.
    bool backlog;
    // Claimed episodes in the channel; claims stop at a batch's worth so a claim never runs far ahead of the batches.
    int queuedEpisodes;
    // Pulsed when a slot frees or a batch takes episodes: a round that found no room waits for it.
    readonly WorkSignal capacity = new();
    // When the next round looks for due timers (Stopwatch ticks): at least every TimerCheckEvery while busy, and at
    // once after an idle sleep or an episode of ours created a timer.
    long nextTimerCheck;
    static readonly TimeSpan TimerCheckEvery = TimeSpan.FromMilliseconds(100);
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
        steps.Writer.TryComplete(); // results that come later record themselves
        await recording;
        await listening.CancelAsync();
        await listener;
    }

    /// <summary>
    /// Fires due timers and claims episodes (up to a batch's worth queued: they run inside the record loop's batches,
    /// so they take no slot and a new instance's first episode never waits behind running chains) and activities (up
    /// to the free slots). With no room for one kind and nothing claimed, waits for room first.
    /// </summary>
    async Task<int> RoundAsync(CancellationToken stopping)
    {
        var found = await FireTimersWhenDueAsync();
        var room = capacity.Next; // taken before looking: room made meanwhile ends the wait below
        var episodeRoom = Math.Max(0, MaxRecordBatch - Volatile.Read(ref queuedEpisodes));
        var activityRoom = Math.Max(0, options.Concurrency - Volatile.Read(ref running));
        var claimed = episodeRoom > 0 || activityRoom > 0 ? await ClaimAsync(episodeRoom, activityRoom) : [];
        // A lease of our own that ran out before its renewal (a slow commit on a busy machine) is claimed again: the
        // claim renewed it; the item already runs here, so it is not started twice.
        if (activityRoom > 0 && claimed.Count(w => w.Kind == "activity") < activityRoom) Volatile.Write(ref backlog, false);
        claimed.RemoveAll(w => inFlight.ContainsKey(w.WorkId));
        foreach (var item in claimed)
            if (item.Kind == "activity") Dispatch(item);
            else Enqueue(item);
        if (claimed.Count == 0 && (episodeRoom == 0 || activityRoom == 0))
        {
            await Task.WhenAny(room, signal.Work.Next, Task.Delay(options.LeaseDuration / 3, stopping)).ContinueWith(_ => { }, TaskScheduler.Default);
            return found + 1; // look again at once
        }
        return found + claimed.Count;
    }

    /// <summary>
    /// When work no signal announces becomes due: a timer, a retry released for later, a lease of a dead worker
    /// running out. Asked only when a round found nothing.
    /// </summary>
    async Task<TimeSpan?> UntilDueAsync(CancellationToken stopping)
    {
        Volatile.Write(ref nextTimerCheck, 0); // the round after the sleep looks for timers
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

    /// <summary>Claims ready rows of the given kinds whose lease is free or expired (the oldest first), up to <paramref name="max"/> of each.</summary>
    internal Task<List<WorkItem>> ClaimAsync(int max, string[]? kinds = null) =>
        ClaimAsync(kinds is null || kinds.Contains("orchestrator") ? max : 0, kinds is null || kinds.Contains("activity") ? max : 0);

    /// <summary>Claims up to <paramref name="episodes"/> ready orchestrator rows and <paramref name="activities"/> activity rows in one statement.</summary>
    async Task<List<WorkItem>> ClaimAsync(int episodes, int activities)
    {
        await using var cmd = db.CreateCommand("""
            with e as (
                select work_id from orchestration_work
                 where kind = 'orchestrator' and visible_at <= now() and (lease_until is null or lease_until < now())
                 order by visible_at limit $1
                 for update skip locked),
            a as (
                select work_id from orchestration_work
                 where kind = 'activity' and visible_at <= now() and (lease_until is null or lease_until < now())
                 order by visible_at limit $2
                 for update skip locked)
            update orchestration_work w set lease_owner = $3, lease_until = now() + $4
              from (select work_id from e union all select work_id from a) c where w.work_id = c.work_id
            returning w.work_id, w.instance_id, w.kind, w.name, w.seq, w.input::text, w.generation
            """);
        cmd.Parameters.Add(new() { Value = episodes });
        cmd.Parameters.Add(new() { Value = activities });
        cmd.Parameters.Add(new() { Value = WorkerId });
        cmd.Parameters.Add(new() { Value = options.LeaseDuration });
        var items = new List<WorkItem>();
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            items.Add(new WorkItem(reader.GetInt64(0), reader.GetString(1), reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetInt32(4),
                reader.IsDBNull(5) ? null : reader.GetString(5), reader.GetInt32(6)));
        return items;
    }

    /// <summary>Fires due timers when it is time to look (see <see cref="nextTimerCheck"/>): a round trip saved on most busy rounds.</summary>
    async Task<int> FireTimersWhenDueAsync()
    {
        var now = Stopwatch.GetTimestamp();
        if (now < Volatile.Read(ref nextTimerCheck)) return 0;
        Volatile.Write(ref nextTimerCheck, now + (long)(TimerCheckEvery.TotalSeconds * Stopwatch.Frequency));
        return await FireDueTimersAsync();
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
    /// Runs an activity we hold the lease of in the background (<paramref name="reserved"/>: its slot is taken already);
    /// its result goes to the record loop, whose batch runs the instance's next episode and claims the activities it
    /// schedules for this worker.
    /// </summary>
    void Dispatch(WorkItem activity, bool reserved = false)
    {
        if (reserved && inFlight.ContainsKey(activity.WorkId))
        {
            // Our own lease ran out before its renewal and a batch's claim renewed it: it already runs here.
            ReturnSlots(1);
            return;
        }
        if (!reserved) Interlocked.Increment(ref running);
        var task = Task.Run(() => ProcessAsync(activity, handOff: true));
        inFlight[activity.WorkId] = task;
        if (task.IsCompleted) inFlight.TryRemove(activity.WorkId, out _); // finished before it was recorded
    }

    /// <summary>Queues a claimed episode for the record loop, which runs it in its next batch.</summary>
    void Enqueue(WorkItem episode)
    {
        var step = new Step(episode, null, null);
        inFlight[episode.WorkId] = step.Recorded.Task;
        Interlocked.Increment(ref queuedEpisodes);
        if (!steps.Writer.TryWrite(step)) // stopping: it runs on its own
        {
            Interlocked.Decrement(ref queuedEpisodes);
            inFlight[episode.WorkId] = ProcessAsync(episode, handOff: true);
        }
    }

    /// <summary>
    /// Runs one claimed item. With <paramref name="handOff"/> the next steps are leased to this worker in the same
    /// transaction that creates them and run at once, without a claim round trip or a poll (the hot path); their
    /// leases work like a claim's, so a killed process's hand-offs are taken over the same way. A handed-off activity
    /// was counted in <see cref="running"/> by <see cref="Dispatch"/>; its slot frees when its code returns.
    /// </summary>
    internal async Task ProcessAsync(WorkItem item, bool handOff = false)
    {
        var counted = handOff && item.Kind == "activity";
        try
        {
            List<WorkItem> next;
            if (item.Kind == "orchestrator") next = await RunEpisodeAsync(item, handOff);
            else if (!handOff) next = await RunActivityAsync(item);
            else
            {
                var (output, failure) = await ExecuteActivityAsync(item);
                FreeSlot(ref counted);
                var step = new Step(item, output, failure);
                // Recorded with the others finishing now (the record loop dispatches what follows), or on its own.
                next = steps.Writer.TryWrite(step) && await step.Recorded.Task ? [] : await RunStepsAsync([step], [], handOff: true);
            }
            foreach (var step in next) Dispatch(step, reserved: true);
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
            FreeSlot(ref counted);
            inFlight.TryRemove(item.WorkId, out _);
        }
    }

    void FreeSlot(ref bool counted)
    {
        if (!counted) return;
        counted = false;
        Interlocked.Decrement(ref running);
        capacity.Pulse();
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
        var writes = NewWrites(commit, handOff);
        try
        {
            await EpisodeAsync(writes, item.InstanceId, instance, history, finished =>
            {
                release.Parameters.Add(new() { Value = item.WorkId });
                release.Parameters.Add(new() { Value = finished });
                release.Parameters.Add(new() { Value = generation });
                writes.Add(release);
                writes.Add(new("delete from orchestration_work where work_id = $1 and ($2 or generation = $3)")
                    { Parameters = { new() { Value = item.WorkId }, new() { Value = finished }, new() { Value = generation } } });
            });
            await writes.FlushAsync(last: true);
            await tx.CommitAsync();
        }
        catch
        {
            ReturnSlots(writes.Slots);
            throw;
        }
        // Left for another episode, or other work created: claim it now, not at the next poll.
        return AfterCommit(writes, release.RecordsAffected > 0);
    }

    sealed record Instance(string Status, string Name, string? Input, long ReplayedUpto, bool HasParent);

    static NpgsqlBatchCommand LoadInstanceCommand(string instanceId) =>
        new("""
            select status, name, input::text, replayed_upto, parent_instance_id is not null
              from orchestration_instance where instance_id = $1 for update
            """) { Parameters = { new() { Value = instanceId } } };

    static async Task<Instance?> ReadInstance(NpgsqlDataReader reader) => await reader.ReadAsync() ? InstanceAt(reader, 0) : null;

    static Instance InstanceAt(NpgsqlDataReader reader, int i) =>
        new(reader.GetString(i), reader.GetString(i + 1), reader.IsDBNull(i + 2) ? null : reader.GetString(i + 2), reader.GetInt64(i + 3),
            reader.GetBoolean(i + 4));

    /// <summary>The writes of a transaction of ours; with <paramref name="handOff"/> it takes activities for free slots.</summary>
    EpisodeWrites NewWrites(NpgsqlConnection conn, bool handOff) =>
        new(conn, handOff ? ReserveSlots : null, Volatile.Read(ref backlog), WorkerId, options.LeaseDuration);

    /// <summary>
    /// Takes up to <paramref name="wanted"/> free slots at once, so batches committing side by side never claim more
    /// than the free slots between them; the caller gives back what it did not use (<see cref="AfterCommit"/>), or all
    /// of them when its transaction fails.
    /// </summary>
    int ReserveSlots(int wanted)
    {
        while (true)
        {
            var now = Volatile.Read(ref running);
            var take = Math.Min(wanted, options.Concurrency - now);
            if (take <= 0) return 0;
            if (Interlocked.CompareExchange(ref running, now + take, now) == now) return take;
        }
    }

    void ReturnSlots(int slots)
    {
        if (slots <= 0) return;
        Interlocked.Add(ref running, -slots);
        capacity.Pulse();
    }

    /// <summary>
    /// After the commit: gives back the reserved slots no claimed activity took, wakes this process's loop for work
    /// left unclaimed and the timer check for timers created. The claimed activities, their slots taken, to dispatch.
    /// </summary>
    List<WorkItem> AfterCommit(EpisodeWrites writes, bool wake = false)
    {
        ReturnSlots(writes.Slots - writes.Next.Count);
        if (writes.LeftWaiting) Volatile.Write(ref backlog, true);
        if (writes.TimersCreated) Volatile.Write(ref nextTimerCheck, 0);
        if (writes.Wake || wake) signal.Work.Pulse();
        return writes.Next;
    }

    /// <summary>
    /// The writes of the episodes one transaction runs, gathered and sent set-based: one statement per kind of row
    /// for all episodes (history events, work rows, instance progress, pokes, endings), in one round trip unless an
    /// episode starts a sub-orchestration or an ended instance has a parent. Given <paramref name="reserve"/>, the
    /// activities the episodes schedule are taken by this worker for its free slots and run at once, without a claim
    /// round trip (the hot path): leased as they are inserted, or, when activities were left waiting
    /// (<paramref name="fifo"/>), by a claim of the oldest ready ones in the last flush, so those go first. They come
    /// back in <see cref="Next"/>.
    /// </summary>
    sealed class EpisodeWrites(NpgsqlConnection connection, Func<int, int>? reserve, bool fifo, string workerId, TimeSpan lease)
    {
        readonly List<(string InstanceId, NewAction Action)> actions = [];
        readonly List<(string InstanceId, NewAction Action, bool Mine)> work = [];
        readonly Dictionary<(string InstanceId, int Seq), WorkItem> handed = [];
        readonly List<(string InstanceId, string? CustomStatus, long Seen)> progress = [];
        readonly HashSet<string> pokes = [];
        readonly List<long> done = [];
        readonly List<Ending> endings = [];
        // Statements of their own, sent after the set-based ones.
        readonly List<NpgsqlBatchCommand> pending = [];
        // The activities scheduled here, to tell whether the claim took them all.
        readonly HashSet<(string InstanceId, int Seq)> scheduled = [];
        bool parentToTell;

        public NpgsqlConnection Connection => connection;
        public List<WorkItem> Next { get; } = [];
        /// <summary>The slots reserved for the claim.</summary>
        public int Slots { get; private set; }
        /// <summary>Work was created that this transaction did not claim: the caller wakes this process's loop after the commit.</summary>
        public bool Wake { get; set; }
        /// <summary>A timer row was created: the worker looks for due timers on its next round.</summary>
        public bool TimersCreated { get; private set; }
        /// <summary>An activity scheduled here was left for a claim.</summary>
        public bool LeftWaiting { get; private set; }

        public void Add(NpgsqlBatchCommand command) => pending.Add(command);

        /// <summary>Records an episode's new call: its scheduling event, and for an activity or a timer its work row.</summary>
        public void Schedule(string instanceId, NewAction action)
        {
            actions.Add((instanceId, action));
            if (action.Kind == EventKind.ActivityScheduled)
            {
                var mine = !fifo && reserve is not null && reserve(1) == 1;
                if (mine)
                {
                    Slots++;
                    handed[(instanceId, action.Seq)] = new WorkItem(0, instanceId, "activity", action.Name, action.Seq, action.Input, 0);
                }
                work.Add((instanceId, action, mine));
                scheduled.Add((instanceId, action.Seq));
            }
            else if (action.Kind == EventKind.TimerCreated)
            {
                work.Add((instanceId, action, false));
                TimersCreated = true;
            }
        }

        public void Progress(string instanceId, string? customStatus, long seen) => progress.Add((instanceId, customStatus, seen));

        public void Poke(string instanceId) => pokes.Add(instanceId);

        /// <summary>The orchestrator row an episode is done with.</summary>
        public void Done(long workId) => done.Add(workId);

        public void End(Ending ending, bool hasParent)
        {
            endings.Add(ending);
            parentToTell |= hasParent;
        }

        /// <summary>
        /// Sends what is gathered. The <paramref name="last"/> flush claims activities, unless a parent is still to be
        /// told (that locks another instance: a claim's row locks must be the last a transaction takes).
        /// </summary>
        public async Task FlushAsync(bool last = false)
        {
            await using var batch = new NpgsqlBatch(connection);
            if (actions.Count > 0)
                batch.BatchCommands.Add(new("""
                    insert into orchestration_history (instance_id, kind, seq, name, child_id, payload, fire_at)
                    select instance_id, kind, seq, name, child_id, payload::jsonb, fire_at
                      from unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::timestamptz[]) with ordinality
                           as a(instance_id, kind, seq, name, child_id, payload, fire_at, n)
                     order by n
                    """)
                {
                    Parameters =
                    {
                        new() { Value = actions.Select(a => a.InstanceId).ToArray() },
                        new() { Value = actions.Select(a => a.Action.Kind).ToArray() },
                        new() { Value = actions.Select(a => a.Action.Seq).ToArray() },
                        new() { Value = actions.Select(a => a.Action.Name).ToArray() },
                        new() { Value = actions.Select(a => a.Action.ChildId).ToArray() },
                        new() { Value = actions.Select(a => a.Action.Input).ToArray() },
                        new() { Value = actions.Select(a => a.Action.FireAt).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz },
                    },
                });
            if (work.Count > 0)
                batch.BatchCommands.Add(new("""
                    insert into orchestration_work (instance_id, kind, name, seq, input, visible_at, lease_owner, lease_until)
                    select instance_id, kind, name, seq, input::jsonb, coalesce(visible_at, now()),
                           case when mine then $8 end, case when mine then clock_timestamp() + $9 end
                      from unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::timestamptz[], $7::bool[])
                           as a(instance_id, kind, name, seq, input, visible_at, mine)
                    returning work_id, instance_id, seq
                    """)
                {
                    Parameters =
                    {
                        new() { Value = work.Select(w => w.InstanceId).ToArray() },
                        new() { Value = work.Select(w => w.Action.Kind == EventKind.TimerCreated ? "timer" : "activity").ToArray() },
                        new() { Value = work.Select(w => w.Action.Kind == EventKind.TimerCreated ? null : w.Action.Name).ToArray() },
                        new() { Value = work.Select(w => w.Action.Seq).ToArray() },
                        new() { Value = work.Select(w => w.Action.Kind == EventKind.TimerCreated ? null : w.Action.Input).ToArray() },
                        new() { Value = work.Select(w => w.Action.FireAt).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz },
                        new() { Value = work.Select(w => w.Mine).ToArray() },
                        new() { Value = workerId },
                        new() { Value = lease },
                    },
                });
            if (progress.Count > 0)
                batch.BatchCommands.Add(new("""
                    update orchestration_instance i
                       set status = case when i.status = 'Pending' then 'Running' else i.status end,
                           custom_status = p.custom_status::jsonb, replayed_upto = greatest(i.replayed_upto, p.seen), updated_at = now()
                      from unnest($1::text[], $2::text[], $3::bigint[]) as p(instance_id, custom_status, seen)
                     where i.instance_id = p.instance_id
                    """)
                {
                    Parameters =
                    {
                        new() { Value = progress.Select(p => p.InstanceId).ToArray() },
                        new() { Value = progress.Select(p => p.CustomStatus).ToArray() },
                        new() { Value = progress.Select(p => p.Seen).ToArray() },
                    },
                });
            if (pokes.Count > 0) batch.BatchCommands.Add(PokeManyCommand(pokes.ToArray()));
            if (done.Count > 0)
                batch.BatchCommands.Add(new("delete from orchestration_work where work_id = any($1)") { Parameters = { new() { Value = done.ToArray() } } });
            if (endings.Count > 0) batch.BatchCommands.Add(FinishManyCommand(endings));
            foreach (var write in pending) batch.BatchCommands.Add(write);
            var claim = 0;
            if (last && fifo && scheduled.Count > 0 && reserve is not null && !parentToTell)
            {
                claim = reserve(scheduled.Count);
                Slots += claim;
                if (claim > 0)
                    batch.BatchCommands.Add(new("""
                        with a as (
                            select work_id from orchestration_work
                             where kind = 'activity' and visible_at <= now() and (lease_until is null or lease_until < now())
                             order by visible_at limit $1
                             for update skip locked)
                        update orchestration_work w set lease_owner = $2, lease_until = clock_timestamp() + $3
                          from a where w.work_id = a.work_id
                        returning w.work_id as claimed_work_id, w.instance_id, w.kind, w.name, w.seq, w.input::text, w.generation
                        """)
                    {
                        Parameters = { new() { Value = claim }, new() { Value = workerId }, new() { Value = lease } },
                    });
            }
            var ended = endings.ToDictionary(e => e.InstanceId);
            actions.Clear();
            work.Clear();
            progress.Clear();
            pokes.Clear();
            done.Clear();
            endings.Clear();
            pending.Clear();

            var parents = new List<(Ending Child, string ParentId, int ParentSeq, string Name)>();
            if (batch.BatchCommands.Count > 0)
                await using (var reader = await batch.ExecuteReaderAsync())
                {
                    do
                    {
                        // Rows come from the work insert (work_id, instance_id, seq), the endings (ended_instance_id, parent...)
                        // and the claim (claimed_work_id, ...).
                        var columns = reader.FieldCount > 0 ? reader.GetName(0) : "";
                        while (await reader.ReadAsync())
                            if (columns == "work_id")
                            {
                                if (handed.Remove((reader.GetString(1), reader.GetInt32(2)), out var activity))
                                    Next.Add(activity with { WorkId = reader.GetInt64(0) });
                            }
                            else if (columns == "ended_instance_id")
                            {
                                if (!reader.IsDBNull(1) && !reader.IsDBNull(2))
                                    parents.Add((ended[reader.GetString(0)], reader.GetString(1), reader.GetInt32(2), reader.GetString(3)));
                            }
                            else
                                Next.Add(new WorkItem(reader.GetInt64(0), reader.GetString(1), reader.GetString(2),
                                    reader.IsDBNull(3) ? null : reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetInt32(4),
                                    reader.IsDBNull(5) ? null : reader.GetString(5), reader.GetInt32(6)));
                    }
                    while (await reader.NextResultAsync());
                }
            // An ended instance's work rows are gone, activities taken here included.
            if (ended.Count > 0) Next.RemoveAll(w => ended.ContainsKey(w.InstanceId));
            foreach (var (child, parentId, parentSeq, name) in parents)
                if (await TellParent(connection, parentId, parentSeq, child.InstanceId, name, child.Status, child.Output, child.Failure))
                    Wake = true;
            // Activities scheduled here and not taken (no free slot, or older ones went first) wait for a round.
            if (last && scheduled.Count > 0 && !scheduled.IsSubsetOf(Next.Select(w => (w.InstanceId, w.Seq!.Value))))
                Wake = LeftWaiting = true;
        }
    }

    /// <summary>
    /// Replays the instance (locked by the transaction of <paramref name="writes"/>) against <paramref name="history"/>
    /// and queues what the episode did, plus <paramref name="settle"/>'s writes for the orchestrator row (given whether
    /// the instance is done with it). The caller flushes and commits.
    /// </summary>
    async Task EpisodeAsync(
        EpisodeWrites writes, string instanceId, Instance? instance, List<HistoryEvent> history, Action<bool> settle)
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
            settle(true);
            return;
        }

        foreach (var action in result.Actions)
        {
            writes.Schedule(instanceId, action);
            if (action.Kind == EventKind.SubOrchestrationScheduled)
            {
                await writes.FlushAsync();
                await StartInstance(writes.Connection, action.ChildId!, action.Name!, action.Input, instanceId, action.Seq);
                writes.Wake = true;
            }
        }

        writes.Progress(instanceId, result.CustomStatus, history.Count == 0 ? 0 : history[^1].EventId);
        if (result.Outcome is EpisodeOutcome.Completed or EpisodeOutcome.Failed)
        {
            if (result.Outcome == EpisodeOutcome.Failed) logger.LogWarning("Orchestration {InstanceId} failed: {Failure}", instanceId, result.Failure);
            writes.End(result.Outcome == EpisodeOutcome.Completed
                ? new Ending(instanceId, "Completed", result.Output, null, result.CustomStatus)
                : new Ending(instanceId, "Failed", null, result.Failure, result.CustomStatus), instance!.HasParent);
        }
        settle(result.Outcome != EpisodeOutcome.Blocked);
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
        return await RunStepsAsync([new Step(item, output, failure)], [], handOff);
    }

    /// <summary>An activity's result waiting to be recorded, or (an orchestrator item) a claimed episode waiting to run.</summary>
    sealed record Step(WorkItem Item, string? Output, FailureDetails? Failure)
    {
        /// <summary>True once run by a batch; false when the batch failed (an activity then records itself).</summary>
        public TaskCompletionSource<bool> Recorded { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>
    /// Records activity results and runs claimed episodes in one transaction. Each result is recorded in the same
    /// statement that completes its work item (exactly one of the executions that raced for it, only after a lost
    /// lease, gets to report). With <paramref name="handOff"/>, each instance with a result whose episode is not
    /// running or claimed elsewhere runs its next episode right there (the hot path: results and next steps commit
    /// together, and the activities those steps schedule are taken by this worker for its free slots); otherwise the
    /// instance is poked for an episode. Three round trips in all, however many steps, unless an episode starts a
    /// sub-orchestration or ends an instance that has a parent.
    /// </summary>
    async Task<List<WorkItem>> RunStepsAsync(IReadOnlyList<Step> completions, IReadOnlyList<WorkItem> episodes, bool handOff)
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
                    select instance_id, status, name, input::text, replayed_upto, parent_instance_id is not null from orchestration_instance
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

        var writes = NewWrites(conn, handOff);
        var withResults = recorded.Select(r => r.InstanceId).ToHashSet();
        try
        {
            foreach (var id in ids)
            {
                var hasRow = episodeRows.TryGetValue(id, out var row);
                var ours = hasRow && claimed.Contains(row.WorkId);
                if (!ours && !withResults.Contains(id)) continue;
                // Holding the instance's lock since before its history was read, no poke can come in between: the
                // episode sees every event, and its row (ours, or free) is done with.
                if (!ours && (!handOff || hasRow && !row.Free))
                {
                    // An episode runs or is claimed elsewhere (the poke moves its generation, so it runs again), or we were
                    // asked only to record: leave the next episode to a claim.
                    writes.Poke(id);
                    writes.Wake |= handOff;
                    continue;
                }
                await EpisodeAsync(writes, id, instances.GetValueOrDefault(id), histories[id], _ =>
                {
                    if (episodeRows.TryGetValue(id, out var done)) writes.Done(done.WorkId);
                });
            }
            await writes.FlushAsync(last: true);
            await tx.CommitAsync();
        }
        catch
        {
            ReturnSlots(writes.Slots);
            throw;
        }
        foreach (var lost in completions.Where(c => !recorded.Contains((c.Item.InstanceId, c.Item.Seq!.Value))))
            logger.LogWarning("Activity {Activity} (#{Seq}) of {InstanceId}: lease lost or instance ended; result discarded",
                lost.Item.Name, lost.Item.Seq, lost.Item.InstanceId);
        return AfterCommit(writes);
    }

    /// <summary>
    /// Records the results of activities as they finish and runs claimed episodes, a batch per transaction: those that
    /// arrive while batches commit go in the next (group commit, without waiting on purpose); up to
    /// <see cref="BatchesInFlight"/> batches commit at once.
    /// </summary>
    async Task RecordLoopAsync()
    {
        var batches = new List<Task>();
        while (await steps.Reader.WaitToReadAsync())
        {
            if (batches.Count >= BatchesInFlight)
            {
                await Task.WhenAny(batches);
                batches.RemoveAll(t => t.IsCompleted);
                continue;
            }
            var batch = new List<Step>();
            while (batch.Count < MaxRecordBatch && steps.Reader.TryRead(out var step)) batch.Add(step);
            if (batch.Count(s => s.Item.Kind == "orchestrator") is > 0 and var episodes)
            {
                Interlocked.Add(ref queuedEpisodes, -episodes);
                capacity.Pulse();
            }
            batches.Add(Task.Run(() => RecordBatchAsync(batch)));
            batches.RemoveAll(t => t.IsCompleted);
        }
        await Task.WhenAll(batches);
    }

    /// <summary>Records a batch's results and runs its episodes in one transaction; on failure each goes on its own.</summary>
    async Task RecordBatchAsync(List<Step> batch)
    {
        var completions = batch.Where(s => s.Item.Kind == "activity").ToList();
        var episodes = batch.Where(s => s.Item.Kind == "orchestrator").Select(s => s.Item).ToList();
        var recorded = false;
        try
        {
            foreach (var step in await RunStepsAsync(completions, episodes, handOff: true)) Dispatch(step, reserved: true);
            recorded = true;
        }
        catch (Exception ex)
        {
            // A deadlock with another transaction, a lost connection: each result and episode goes on its own instead.
            logger.LogWarning(ex, "Orchestration worker {Worker}: recording {Count} step(s) together failed; running them one by one",
                WorkerId, batch.Count);
        }
        if (!recorded) await Task.WhenAll(episodes.Select(episode => ProcessAsync(episode, handOff: true)));
        foreach (var step in batch)
        {
            step.Recorded.TrySetResult(recorded);
            if (step.Item.Kind == "orchestrator") inFlight.TryRemove(step.Item.WorkId, out _);
        }
    }

    async Task RenewAsync()
    {
        var ids = inFlight.Keys.ToArray();
        if (ids.Length == 0) return;
        try
        {
            // Rows a transaction of ours holds are skipped (it is settling them; the next renewal gets any it keeps):
            // waiting for them while holding others could deadlock with a batch locking its rows in another order.
            await using var cmd = db.CreateCommand("""
                update orchestration_work w set lease_until = now() + $3
                  from (select work_id from orchestration_work where work_id = any($1) and lease_owner = $2 for update skip locked) r
                 where w.work_id = r.work_id
                """);
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
