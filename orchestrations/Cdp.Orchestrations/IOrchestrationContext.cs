namespace Cdp.Orchestrations;

/// <summary>
/// What an orchestrator may use. Locally it is the Postgres engine's replay context; on Azure an adapter over
/// Durable's <c>TaskOrchestrationContext</c>. Either way the orchestrator's code is re-run from the start against its
/// history every time something new happens, so it must be deterministic:
/// <list type="bullet">
/// <item>no wall clock (<c>DateTime.UtcNow</c>): use <see cref="CurrentUtcDateTime"/>;</item>
/// <item>no <c>Guid.NewGuid()</c> or <c>Random</c>: use <see cref="NewGuid"/>;</item>
/// <item>no I/O (database, HTTP, files, environment, config that may change): do it in an activity;</item>
/// <item>no <c>Task.Run</c>, <c>Task.Delay</c>, <c>ConfigureAwait(false)</c>, threads or locks: await only the tasks this
/// context returns (and <c>Task.WhenAll/WhenAny</c> over them); use <see cref="CreateTimer"/> to wait;</item>
/// <item>activity and orchestrator names via <c>nameof</c>, never literals;</item>
/// <item>log only when <see cref="IsReplaying"/> is false, or each line repeats at every replay.</item>
/// </list>
/// Breaking a rule either fails the instance with <see cref="NonDeterministicOrchestrationException"/> (a call that
/// differs from history) or leaves it waiting on a task nothing durable will complete (it is failed too, with a message).
/// </summary>
public interface IOrchestrationContext
{
    string InstanceId { get; }

    /// <summary>The orchestration's input, deserialised from its stored JSON.</summary>
    T? GetInput<T>();

    /// <summary>The time of the history event being replayed (UTC): the same value at every replay.</summary>
    DateTime CurrentUtcDateTime { get; }

    /// <summary>True while the code re-runs over events an earlier episode already handled.</summary>
    bool IsReplaying { get; }

    /// <summary>A deterministic name-based (v5) UUID from the instance id and a per-instance counter.</summary>
    Guid NewGuid();

    /// <summary>
    /// Schedules activity <paramref name="name"/> and completes with its result. A failure surfaces as
    /// <see cref="TaskFailedException"/> once <paramref name="retry"/>'s attempts are spent; the waits between
    /// attempts are durable timers.
    /// </summary>
    Task<T> CallActivityAsync<T>(string name, object? input, RetryPolicy? retry = null);

    /// <summary>Starts orchestration <paramref name="name"/> as a child (id defaults to "{parent}:{seq}") and completes with its output.</summary>
    Task<T> CallSubOrchestratorAsync<T>(string name, object? input, string? instanceId = null, RetryPolicy? retry = null);

    /// <summary>A durable timer: completes at <paramref name="fireAtUtc"/>, even across restarts; cancelling it abandons the wait.</summary>
    Task CreateTimer(DateTime fireAtUtc, CancellationToken cancellationToken);

    /// <summary>
    /// Completes with the next event of that name raised to this instance (events raised earlier are buffered in
    /// order). Throws <see cref="TaskCanceledException"/> once <paramref name="timeout"/> has passed, like Durable;
    /// <see cref="Timeout.InfiniteTimeSpan"/> waits forever.
    /// </summary>
    Task<T> WaitForExternalEvent<T>(string name, TimeSpan timeout);

    /// <summary>Shown as customStatus in the instance's status; serialised to JSON when the episode commits.</summary>
    void SetCustomStatus(object? customStatus);
}
