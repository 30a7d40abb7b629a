namespace Cdp.Orchestrations.Engine;

/// <summary>Runs an orchestrator from the start against its whole history: one episode.</summary>
static class Replayer
{
    public static EpisodeResult Run(IOrchestrator orchestrator, string instanceId, string? inputJson, IReadOnlyList<HistoryEvent> history, long replayedUpto)
    {
        var started = history.FirstOrDefault(e => e.Kind == EventKind.Started)
            ?? throw new InvalidOperationException($"Orchestration '{instanceId}' has no Started event.");
        var context = new ReplayContext(instanceId, inputJson, history)
        {
            CurrentUtcDateTime = started.CreatedAt,
            IsReplaying = started.EventId <= replayedUpto,
        };
        var scheduler = new EpisodeScheduler();
        Task<string?> root;
        try
        {
            root = Task.Factory.StartNew(() => orchestrator.RunAsync(context, inputJson), CancellationToken.None, TaskCreationOptions.None, scheduler).Unwrap();
            scheduler.Drain();
            foreach (var e in history)
            {
                if (root.IsCompleted || context.Violation is not null) break;
                if (e.EventId <= started.EventId || EventKind.IsScheduling(e.Kind) || e.Kind == EventKind.Started) continue;
                context.CurrentUtcDateTime = e.CreatedAt;
                context.IsReplaying = e.EventId <= replayedUpto;
                context.Deliver(e);
                scheduler.Drain();
            }
            context.IsReplaying = false;
        }
        finally
        {
            scheduler.Close();
        }

        if (context.Violation is { } violation) return Failed(context, violation);
        if (context.Unmatched.FirstOrDefault() is { } lost)
            return Failed(context, new NonDeterministicOrchestrationException(
                $"Non-deterministic orchestration '{instanceId}': history has {lost.Kind} '{lost.Name}' at step {lost.Seq} " +
                "but the code no longer asks for it."));
        if (root.IsCompletedSuccessfully) return new(EpisodeOutcome.Completed, context.Actions, context.CustomStatusJson, root.Result, null);
        if (root.IsFaulted) return Failed(context, root.Exception!.InnerException ?? root.Exception);
        if (root.IsCanceled) return Failed(context, new TaskCanceledException("The orchestrator's task was cancelled."));
        if (!context.HasOpenWork && context.Actions.Count == 0)
            return Failed(context, new InvalidOperationException(
                $"Orchestration '{instanceId}' is waiting on a task that is not durable (Task.Delay, Task.Run, I/O?): " +
                "orchestrators may await only the context's tasks."));
        return new(EpisodeOutcome.Blocked, context.Actions, context.CustomStatusJson, null, null);
    }

    static EpisodeResult Failed(ReplayContext context, Exception error) =>
        new(EpisodeOutcome.Failed, [], context.CustomStatusJson, null, FailureDetails.From(error));
}
