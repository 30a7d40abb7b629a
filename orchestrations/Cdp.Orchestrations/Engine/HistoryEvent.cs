namespace Cdp.Orchestrations.Engine;

/// <summary>Kinds of rows in orchestration_history (the strings are stored).</summary>
static class EventKind
{
    public const string Started = nameof(Started);
    public const string ActivityScheduled = nameof(ActivityScheduled);
    public const string ActivityCompleted = nameof(ActivityCompleted);
    public const string ActivityFailed = nameof(ActivityFailed);
    public const string TimerCreated = nameof(TimerCreated);
    public const string TimerFired = nameof(TimerFired);
    public const string SubOrchestrationScheduled = nameof(SubOrchestrationScheduled);
    public const string SubOrchestrationCompleted = nameof(SubOrchestrationCompleted);
    public const string SubOrchestrationFailed = nameof(SubOrchestrationFailed);
    public const string EventRaised = nameof(EventRaised);
    public const string Terminated = nameof(Terminated);

    /// <summary>Recorded by an episode for a call of the orchestrator's; replay matches calls against these by seq.</summary>
    public static bool IsScheduling(string kind) => kind is ActivityScheduled or TimerCreated or SubOrchestrationScheduled;
}

/// <summary>One row of an instance's history.</summary>
sealed record HistoryEvent(
    long EventId, string Kind, int? Seq, string? Name, string? ChildId, string? Payload,
    string? ErrorType, string? ErrorMessage, DateTime? FireAt, DateTime CreatedAt);

/// <summary>A call an episode made that history did not have yet: stored as a scheduling event plus its work.</summary>
sealed record NewAction(string Kind, int Seq, string? Name, string? Input, DateTime? FireAt = null, string? ChildId = null);

enum EpisodeOutcome { Blocked, Completed, Failed }

/// <summary>What one replay produced: the new calls to record and whether the orchestrator finished.</summary>
sealed record EpisodeResult(
    EpisodeOutcome Outcome, IReadOnlyList<NewAction> Actions, string? CustomStatus, string? Output, FailureDetails? Failure);
