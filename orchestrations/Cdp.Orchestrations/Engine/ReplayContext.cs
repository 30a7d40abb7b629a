using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Cdp.Shared;

namespace Cdp.Orchestrations.Engine;

/// <summary>
/// The local engine's <see cref="IOrchestrationContext"/>. Every call takes the next sequence number; a call whose
/// seq already has a scheduling event in history is matched against it (kind and name must agree, else the
/// instance fails as non-deterministic) and completes when its completion event is delivered; a call history does not
/// have becomes a <see cref="NewAction"/> the episode records.
/// </summary>
sealed class ReplayContext : IOrchestrationContext
{
    // DTFx's namespace for deterministic GUIDs (name-based, SHA-1, RFC 4122 version 5).
    static readonly Guid GuidNamespace = new("9e952958-5e33-4daf-827f-2fa12937b875");

    readonly string? inputJson;
    readonly Dictionary<int, HistoryEvent> scheduled;
    readonly HashSet<int> issued = [];
    readonly Dictionary<int, Action<HistoryEvent>> open = [];
    readonly Dictionary<string, LinkedList<Action<string?>>> waiters = new(StringComparer.OrdinalIgnoreCase);
    readonly Dictionary<string, Queue<string?>> buffered = new(StringComparer.OrdinalIgnoreCase);
    readonly List<NewAction> actions = [];
    readonly int threadId = Environment.CurrentManagedThreadId;
    int nextSeq;
    int guidCounter;

    public ReplayContext(string instanceId, string? inputJson, IEnumerable<HistoryEvent> history)
    {
        InstanceId = instanceId;
        this.inputJson = inputJson;
        scheduled = history.Where(e => EventKind.IsScheduling(e.Kind) && e.Seq is not null).ToDictionary(e => e.Seq!.Value);
    }

    public string InstanceId { get; }
    public DateTime CurrentUtcDateTime { get; set; }
    public bool IsReplaying { get; set; }
    public IReadOnlyList<NewAction> Actions => actions;
    public string? CustomStatusJson { get; private set; }

    /// <summary>The first way the code broke the rules, if it did; fails the instance whatever the code made of it.</summary>
    public Exception? Violation { get; private set; }

    /// <summary>Scheduling events in history that this replay's code never asked for again.</summary>
    public IEnumerable<HistoryEvent> Unmatched => scheduled.Values.Where(e => !issued.Contains(e.Seq!.Value));

    /// <summary>Whether anything durable can still wake the orchestrator (an open call or an event wait).</summary>
    public bool HasOpenWork => open.Count > 0 || waiters.Values.Any(w => w.Count > 0);

    public T? GetInput<T>() => inputJson is null ? default : JsonSerializer.Deserialize<T>(inputJson, CdpJson.Options);

    public Guid NewGuid()
    {
        Guard();
        var name = $"{InstanceId}_{CurrentUtcDateTime:o}_{guidCounter++}";
        Span<byte> ns = stackalloc byte[16];
        GuidNamespace.TryWriteBytes(ns, bigEndian: true, out _);
        var hash = SHA1.HashData([.. ns, .. Encoding.UTF8.GetBytes(name)]);
        hash[6] = (byte)((hash[6] & 0x0F) | 0x50);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash.AsSpan(0, 16), bigEndian: true);
    }

    public void SetCustomStatus(object? customStatus)
    {
        Guard();
        CustomStatusJson = customStatus is null ? null : JsonSerializer.Serialize(customStatus, CdpJson.Options);
    }

    public async Task<T> CallActivityAsync<T>(string name, object? input, RetryPolicy? retry = null)
    {
        var inputText = Serialize(input);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await Call<T>(EventKind.ActivityScheduled, name, inputText, null);
            }
            catch (TaskFailedException) when (retry?.DelayBeforeAttempt(attempt + 1) is { } delay)
            {
                await CreateTimer(CurrentUtcDateTime + delay, CancellationToken.None);
            }
        }
    }

    public async Task<T> CallSubOrchestratorAsync<T>(string name, object? input, string? instanceId = null, RetryPolicy? retry = null)
    {
        var inputText = Serialize(input);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await Call<T>(EventKind.SubOrchestrationScheduled, name, inputText, instanceId);
            }
            catch (TaskFailedException) when (retry?.DelayBeforeAttempt(attempt + 1) is { } delay)
            {
                await CreateTimer(CurrentUtcDateTime + delay, CancellationToken.None);
            }
        }
    }

    Task<T> Call<T>(string kind, string name, string? input, string? childId)
    {
        var seq = Issue(kind, name);
        if (!scheduled.ContainsKey(seq))
            actions.Add(new NewAction(kind, seq, name, input, ChildId: kind == EventKind.SubOrchestrationScheduled ? childId ?? $"{InstanceId}:{seq}" : null));
        var tcs = new TaskCompletionSource<T>();
        open[seq] = e =>
        {
            if (e.Kind is EventKind.ActivityFailed or EventKind.SubOrchestrationFailed)
                tcs.TrySetException(new TaskFailedException(name, seq, new FailureDetails(e.ErrorType ?? "Exception", e.ErrorMessage ?? "")));
            else if (e.Kind is EventKind.ActivityCompleted or EventKind.SubOrchestrationCompleted)
                Complete(tcs, e.Payload);
        };
        return tcs.Task;
    }

    public Task CreateTimer(DateTime fireAtUtc, CancellationToken cancellationToken)
    {
        var fireAt = fireAtUtc.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(fireAtUtc, DateTimeKind.Utc) : fireAtUtc.ToUniversalTime();
        var seq = Issue(EventKind.TimerCreated, null);
        if (!scheduled.ContainsKey(seq)) actions.Add(new NewAction(EventKind.TimerCreated, seq, null, null, FireAt: fireAt));
        var tcs = new TaskCompletionSource();
        open[seq] = e => { if (e.Kind == EventKind.TimerFired) tcs.TrySetResult(); };
        if (cancellationToken.CanBeCanceled)
            cancellationToken.Register(() =>
            {
                open.Remove(seq);
                tcs.TrySetCanceled(cancellationToken);
            });
        return tcs.Task;
    }

    public Task<T> WaitForExternalEvent<T>(string name, TimeSpan timeout)
    {
        Guard();
        var tcs = new TaskCompletionSource<T>();
        if (buffered.TryGetValue(name, out var queue) && queue.TryDequeue(out var payload))
        {
            Complete(tcs, payload);
            return tcs.Task;
        }
        if (!waiters.TryGetValue(name, out var list)) waiters[name] = list = new();
        var node = list.AddLast(p => Complete(tcs, p));
        if (timeout != Timeout.InfiniteTimeSpan)
        {
            // The timeout is a durable timer like any other; if the event wins, the timer's firing finds nothing to do.
            var timer = CreateTimer(CurrentUtcDateTime + timeout, CancellationToken.None);
            timer.ContinueWith(_ =>
            {
                if (node.List is null) return;
                node.List.Remove(node);
                tcs.TrySetException(new TaskCanceledException($"Timed out after {timeout} waiting for external event '{name}'."));
            }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        return tcs.Task;
    }

    /// <summary>Feeds one completion-type history event to whoever waits for it.</summary>
    public void Deliver(HistoryEvent e)
    {
        if (e.Kind == EventKind.EventRaised)
        {
            var name = e.Name ?? "";
            if (waiters.TryGetValue(name, out var list) && list.First is { } first)
            {
                list.RemoveFirst();
                first.Value(e.Payload);
            }
            else
            {
                if (!buffered.TryGetValue(name, out var queue)) buffered[name] = queue = new();
                queue.Enqueue(e.Payload);
            }
            return;
        }
        // A completion nobody waits for: a cancelled timer, or a wait whose timeout already fired.
        if (e.Seq is { } seq && open.Remove(seq, out var handler)) handler(e);
    }

    int Issue(string kind, string? name)
    {
        Guard();
        var seq = nextSeq++;
        issued.Add(seq);
        if (scheduled.TryGetValue(seq, out var recorded) && (recorded.Kind != kind || !string.Equals(recorded.Name, name, StringComparison.Ordinal)))
        {
            Violation ??= new NonDeterministicOrchestrationException(
                $"Non-deterministic orchestration '{InstanceId}': at step {seq} history has {recorded.Kind} '{recorded.Name}' " +
                $"but the code now asks for {kind} '{name}'. Orchestrator code must not change its calls for a given history " +
                "(no clock, random, I/O or changed deployment in flight).");
            throw Violation;
        }
        return seq;
    }

    void Guard()
    {
        if (Violation is not null) throw Violation;
        if (Environment.CurrentManagedThreadId != threadId)
        {
            Violation ??= new InvalidOperationException(
                $"Orchestration '{InstanceId}' called its context off the orchestration thread: orchestrators must not use " +
                "Task.Run, ConfigureAwait(false) or non-durable tasks.");
            throw Violation;
        }
    }

    static void Complete<T>(TaskCompletionSource<T> tcs, string? payload)
    {
        try { tcs.TrySetResult(payload is null ? default! : JsonSerializer.Deserialize<T>(payload, CdpJson.Options)!); }
        catch (Exception ex) { tcs.TrySetException(ex); }
    }

    static string? Serialize(object? value) => value is null ? null : JsonSerializer.Serialize(value, value.GetType(), CdpJson.Options);
}
