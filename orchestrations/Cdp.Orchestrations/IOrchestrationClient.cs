using System.Text.Json;
using System.Text.Json.Serialization;
using Cdp.Shared;

namespace Cdp.Orchestrations;

/// <summary>
/// Starts and inspects orchestrations: what endpoints and other code use. Locally backed by Postgres; on Azure an
/// adapter over <c>DurableTaskClient</c>.
/// </summary>
public interface IOrchestrationClient
{
    /// <summary>
    /// Starts <paramref name="name"/> under <paramref name="instanceId"/> (a new GUID when null) and returns the id.
    /// Starting an id that exists and has not finished is a no-op that returns the id, so an id derived from an
    /// entity (e.g. "convert-lead-{leadId}") makes a singleton per entity and a retried request cannot start a second
    /// run. An id whose run has finished starts afresh (its old history is replaced), as Durable does.
    /// </summary>
    Task<string> StartAsync(string name, object? input, string? instanceId = null);

    /// <summary>Null when no such instance exists (never started, or purged).</summary>
    Task<OrchestrationStatus?> GetStatusAsync(string instanceId);

    /// <summary>Delivers an event (buffered until the orchestrator waits for it). Ignored when the instance has finished.</summary>
    Task RaiseEventAsync(string instanceId, string eventName, object? data);

    /// <summary>Marks a Pending/Running instance Terminated and drops its pending work; no-op when already finished.</summary>
    Task TerminateAsync(string instanceId, string? reason);

    /// <summary>Deletes finished instances (Completed, Failed, Terminated) last updated before the date, with their history.</summary>
    Task<int> PurgeAsync(DateTimeOffset completedBefore);

    /// <summary>
    /// Waits until the instance finishes and returns its status; after <paramref name="timeout"/> returns the status
    /// as it is then (still Pending or Running), so an endpoint can answer 200 or 202.
    /// </summary>
    Task<OrchestrationStatus> WaitForCompletionAsync(string instanceId, TimeSpan timeout);
}

[JsonConverter(typeof(JsonStringEnumConverter<OrchestrationRuntimeStatus>))]
public enum OrchestrationRuntimeStatus { Pending, Running, Completed, Failed, Terminated }

/// <summary>The status route's shape (API.md): name, instanceId, runtimeStatus, input, customStatus, output, createdTime, lastUpdatedTime.</summary>
public sealed record OrchestrationStatus(
    string Name,
    string InstanceId,
    OrchestrationRuntimeStatus RuntimeStatus,
    JsonElement? Input,
    JsonElement? CustomStatus,
    JsonElement? Output,
    DateTimeOffset CreatedTime,
    DateTimeOffset LastUpdatedTime,
    FailureDetails? FailureDetails = null)
{
    [JsonIgnore]
    public bool IsFinished => RuntimeStatus is OrchestrationRuntimeStatus.Completed or OrchestrationRuntimeStatus.Failed or OrchestrationRuntimeStatus.Terminated;

    public T? ReadOutputAs<T>() => Output is { } o ? o.Deserialize<T>(CdpJson.Options) : default;
    public T? ReadCustomStatusAs<T>() => CustomStatus is { } o ? o.Deserialize<T>(CdpJson.Options) : default;
}
