namespace Cdp.Orchestrations;

/// <summary>What failed, as Durable reports it: the exception's type name and message (the exception itself stays in the activity's process).</summary>
public sealed record FailureDetails(string ErrorType, string ErrorMessage)
{
    public static FailureDetails From(Exception error) => new(error.GetType().FullName ?? error.GetType().Name, error.Message);

    /// <summary>True when the failure was an exception of type <typeparamref name="T"/> (or derived, when the type still loads).</summary>
    public bool IsCausedBy<T>() where T : Exception
    {
        if (ErrorType == typeof(T).FullName) return true;
        var type = AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetType(ErrorType, throwOnError: false)).FirstOrDefault(t => t is not null);
        return type is not null && typeof(T).IsAssignableFrom(type);
    }

    public override string ToString() => $"{ErrorType}: {ErrorMessage}";
}

/// <summary>An activity or sub-orchestration failed (after its retries): thrown where the orchestrator awaits it.</summary>
public sealed class TaskFailedException(string taskName, int taskId, FailureDetails failureDetails)
    : Exception($"Task '{taskName}' (#{taskId}) failed with an unhandled exception: {failureDetails.ErrorMessage}")
{
    public string TaskName { get; } = taskName;
    public int TaskId { get; } = taskId;
    public FailureDetails FailureDetails { get; } = failureDetails;
}

/// <summary>The orchestrator's code asked for something other than what its history recorded at that point.</summary>
public sealed class NonDeterministicOrchestrationException(string message) : Exception(message);
