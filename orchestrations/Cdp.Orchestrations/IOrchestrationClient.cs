using System.Text.Json;
using System.Text.Json.Serialization;
using Cdp.Shared;
using Cdp.Shared.Api;

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

    /// <summary>
    /// One page of instances (no inputs or outputs). The local engine lists newest first; Durable in its store's order,
    /// and a name filter may leave a page short (Durable cannot filter by name): follow <see cref="Page{T}.Next"/> to the end.
    /// </summary>
    Task<Page<OrchestrationSummary>> ListAsync(OrchestrationListQuery query, CancellationToken ct);
}

/// <summary>Filters of GET /api/orchestrations; <paramref name="Cursor"/> is the raw cursor of the previous page.</summary>
public sealed record OrchestrationListQuery(
    OrchestrationRuntimeStatus? Status, string? Name, DateTimeOffset? CreatedFrom, DateTimeOffset? CreatedTo, int Limit, string? Cursor);

/// <summary>A row of the list: runtimeStatus spelt as Durable Functions spells it, like the status route.</summary>
public sealed record OrchestrationSummary(string Name, string InstanceId, string RuntimeStatus, DateTimeOffset CreatedTime, DateTimeOffset LastUpdatedTime);

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
