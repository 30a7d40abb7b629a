using Cdp.Orchestrations;
using Microsoft.DurableTask;
using CoreRetryPolicy = Cdp.Orchestrations.RetryPolicy;
using CoreTaskFailedException = Cdp.Orchestrations.TaskFailedException;
using DurableRetryPolicy = Microsoft.DurableTask.RetryPolicy;
using DurableTaskFailedException = Microsoft.DurableTask.TaskFailedException;

namespace Cdp.Functions.Durable;

/// <summary>
/// Our <see cref="IOrchestrationContext"/> over Durable's <see cref="TaskOrchestrationContext"/>, so the core's
/// orchestrators run unchanged on Durable Functions. Durable's failures are turned into the core's
/// <see cref="CoreTaskFailedException"/>, the type the orchestrators catch.
/// </summary>
sealed class DurableOrchestrationContext(TaskOrchestrationContext inner) : IOrchestrationContext
{
    public string InstanceId => inner.InstanceId;

    public T? GetInput<T>() => inner.GetInput<T>();

    public DateTime CurrentUtcDateTime => inner.CurrentUtcDateTime;

    public bool IsReplaying => inner.IsReplaying;

    public Guid NewGuid() => inner.NewGuid();

    public async Task<T> CallActivityAsync<T>(string name, object? input, CoreRetryPolicy? retry = null)
    {
        try { return await inner.CallActivityAsync<T>(name, input, Options(retry)); }
        catch (DurableTaskFailedException e) { throw Translate(e); }
    }

    public async Task<T> CallSubOrchestratorAsync<T>(string name, object? input, string? instanceId = null, CoreRetryPolicy? retry = null)
    {
        TaskOptions? options = instanceId is null ? Options(retry)
            : Options(retry) is { } withRetry ? withRetry.WithInstanceId(instanceId)
            : new SubOrchestrationOptions(retry: null, instanceId: instanceId);
        try { return await inner.CallSubOrchestratorAsync<T>(name, input, options); }
        catch (DurableTaskFailedException e) { throw Translate(e); }
    }

    public Task CreateTimer(DateTime fireAtUtc, CancellationToken cancellationToken) => inner.CreateTimer(fireAtUtc, cancellationToken);

    public Task<T> WaitForExternalEvent<T>(string name, TimeSpan timeout) =>
        // Durable's timeout overload sets a durable timer; "forever" must not become a timer in the past.
        timeout == Timeout.InfiniteTimeSpan
            ? inner.WaitForExternalEvent<T>(name, CancellationToken.None)
            : inner.WaitForExternalEvent<T>(name, timeout);

    public void SetCustomStatus(object? customStatus) => inner.SetCustomStatus(customStatus);

    /// <summary>Both count the first try in MaxNumberOfAttempts, so the numbers carry over as they are.</summary>
    static TaskOptions? Options(CoreRetryPolicy? retry) => retry is null ? null : TaskOptions.FromRetryPolicy(
        new DurableRetryPolicy(retry.MaxNumberOfAttempts, retry.FirstRetryInterval, retry.BackoffCoefficient, retry.MaxRetryInterval));

    static CoreTaskFailedException Translate(DurableTaskFailedException e) =>
        new(e.TaskName, e.TaskId, new FailureDetails(e.FailureDetails.ErrorType, e.FailureDetails.ErrorMessage));
}
