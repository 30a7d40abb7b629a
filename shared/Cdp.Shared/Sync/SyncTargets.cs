namespace Cdp.Shared.Sync;

/// <summary>What a target is asked to push: the newest saved state of the entity, not the triggering task's snapshot.</summary>
public sealed record SyncChange(Guid SyncTaskId, string Target, string EntityType, Guid EntityId, LatestChange Latest);

/// <summary>Pushed, or done without pushing (the note says why and is shown on the task).</summary>
public sealed record SyncPushResult(string? Note)
{
    public static SyncPushResult Pushed { get; } = new((string?)null);
    public static SyncPushResult NothingToPush(string why) => new("nothing to push: " + why);
}

/// <summary>
/// A system the platform pushes changes to, registered by name (<see cref="Name"/> = sync_task.target). A push must be
/// idempotent: it may run again after a crash, and several tasks may push the same newest state.
/// Throwing counts as a failed attempt (retried); <see cref="SyncRejectedException"/> fails the task at once.
/// </summary>
public interface ISyncTarget
{
    string Name { get; }

    Task<SyncPushResult> PushAsync(SyncChange change, CancellationToken ct);
}

/// <summary>A push that no retry can fix (unknown target, missing configuration): the task fails without retries.</summary>
public sealed class SyncRejectedException(string message) : Exception(message);

/// <summary>Name → target over every registered <see cref="ISyncTarget"/>.</summary>
public sealed class SyncTargetRegistry(IEnumerable<ISyncTarget> targets)
{
    readonly Dictionary<string, ISyncTarget> byName = targets.GroupBy(t => t.Name).ToDictionary(g => g.Key, g => g.Last());

    public IReadOnlyCollection<string> Names => byName.Keys;

    public ISyncTarget Get(string name) => byName.TryGetValue(name, out var target)
        ? target
        : throw new SyncRejectedException($"Unknown sync target '{name}'; registered: {string.Join(", ", byName.Keys.Order())}.");
}
