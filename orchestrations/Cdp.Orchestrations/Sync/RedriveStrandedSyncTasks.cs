using Cdp.Shared.Sync;
using Microsoft.Extensions.Logging;

namespace Cdp.Orchestrations.Sync;

/// <summary>
/// A sync task is saved in the same transaction as the change, and its orchestration started just after the commit. A
/// crash (or an engine outage) between the two would leave the task pending with nothing to push it; housekeeping runs
/// this to start those: pending since before <see cref="MinimumAge"/> ago and no unfinished orchestration. Starting
/// twice is harmless (the push sends the entity's latest state and a superseded task skips).
/// </summary>
public sealed class RedriveStrandedSyncTasks(
    SyncTaskStore store, IOrchestrationClient orchestrations, ISyncRunner runner, TimeProvider clock, ILogger<RedriveStrandedSyncTasks> logger)
{
    /// <summary>Younger pending tasks may simply be about to start.</summary>
    public static readonly TimeSpan MinimumAge = TimeSpan.FromMinutes(1);

    public async Task<int> RunAsync(CancellationToken ct)
    {
        var started = 0;
        foreach (var id in await store.PendingSinceAsync(clock.GetUtcNow() - MinimumAge, limit: 500, ct))
        {
            if (await orchestrations.GetStatusAsync(SyncThenRetry.InstanceIdOf(id)) is { IsFinished: false }) continue;
            await runner.StartAsync(id, ct);
            started++;
        }
        if (started > 0) logger.LogWarning("Started the push of {Count} sync task(s) left pending without a running orchestration", started);
        return started;
    }
}
