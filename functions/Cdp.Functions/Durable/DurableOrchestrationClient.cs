using System.Text.Json;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
// The core's types by alias: several share a name with Durable's, whose namespace (Microsoft.DurableTask or
// .Client) has moved between SDK versions, so Durable's are left unqualified.
using CoreStatus = Cdp.Orchestrations.OrchestrationRuntimeStatus;
using FailureDetails = Cdp.Orchestrations.FailureDetails;
using IOrchestrationClient = Cdp.Orchestrations.IOrchestrationClient;
using OrchestrationStatus = Cdp.Orchestrations.OrchestrationStatus;
using CorePage = Cdp.Shared.Api.Page<Cdp.Orchestrations.OrchestrationSummary>;
using Paging = Cdp.Shared.Api.Paging;

namespace Cdp.Functions.Durable;

/// <summary>The core's <see cref="IOrchestrationClient"/> over Durable's <see cref="DurableTaskClient"/> (from the invocation's <see cref="DurableClientScope"/>).</summary>
sealed class DurableOrchestrationClient(DurableClientScope scope) : IOrchestrationClient
{
    DurableTaskClient Client => scope.Client;

    public async Task<string> StartAsync(string name, object? input, string? instanceId = null)
    {
        instanceId ??= Guid.NewGuid().ToString("N");
        // The core's contract: starting an id that has not finished is a no-op (singletons per entity).
        if (await IsUnfinishedAsync(instanceId)) return instanceId;
        try
        {
            var started = await Client.ScheduleNewOrchestrationInstanceAsync(name, input, new StartOrchestrationOptions(instanceId));
            Cdp.Shared.Telemetry.CdpTelemetry.Orchestrations.Add(1, new("name", name), new("status", "started"));
            return started;
        }
        catch (Exception) when (!string.IsNullOrEmpty(instanceId))
        {
            // A concurrent start won the race; the store refuses a second run of a live id. Anything else is real.
            if (await IsUnfinishedAsync(instanceId)) return instanceId;
            throw;
        }
    }

    public async Task<OrchestrationStatus?> GetStatusAsync(string instanceId) =>
        await Client.GetInstanceAsync(instanceId, getInputsAndOutputs: true) is { } metadata ? Map(metadata) : null;

    public Task RaiseEventAsync(string instanceId, string eventName, object? data) => Client.RaiseEventAsync(instanceId, eventName, data);

    public Task TerminateAsync(string instanceId, string? reason) => Client.TerminateInstanceAsync(instanceId, (object?)reason);

    /// <summary>
    /// Durable filters a purge by creation time, not completion: an instance created before the cut-off that finished
    /// after it goes too. Close enough for a retention of days. The lower bound is given: the gRPC servers read the
    /// filter's CreatedTimeFrom without a null check (Durable extension's and DurableTask's ProtobufUtils.ToPurgeInstanceFilter),
    /// so a null one fails the purge.
    /// </summary>
    public async Task<int> PurgeAsync(DateTimeOffset completedBefore)
    {
        var result = await Client.PurgeAllInstancesAsync(new PurgeInstancesFilter(DateTimeOffset.UnixEpoch, completedBefore,
            [OrchestrationRuntimeStatus.Completed, OrchestrationRuntimeStatus.Failed, OrchestrationRuntimeStatus.Terminated]));
        return result.PurgedInstanceCount;
    }

    public async Task<OrchestrationStatus> WaitForCompletionAsync(string instanceId, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            return Map(await Client.WaitForInstanceCompletionAsync(instanceId, getInputsAndOutputs: true, cancel.Token));
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            return await GetStatusAsync(instanceId) ?? throw new InvalidOperationException($"No orchestration instance '{instanceId}'.");
        }
    }

    /// <summary>
    /// One page of Durable's query; the cursor is its continuation token. Durable filters by status and creation time
    /// but not by name, so the name is filtered here and a page may come back short.
    /// </summary>
    public async Task<CorePage> ListAsync(Cdp.Orchestrations.OrchestrationListQuery query, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(query);
        var continuation = Paging.Reveal(query.Cursor);
        var filter = new OrchestrationQuery
        {
            CreatedFrom = query.CreatedFrom,
            CreatedTo = query.CreatedTo,
            Statuses = query.Status is { } status ? [Map(status)] : null,
            PageSize = query.Limit,
            FetchInputsAndOutputs = false,
            ContinuationToken = continuation,
        };
        await foreach (var page in Client.GetAllInstancesAsync(filter).AsPages(continuation, query.Limit).WithCancellation(ct))
        {
            var items = page.Values.Where(m => query.Name is null || m.Name == query.Name)
                .Select(m => new Cdp.Orchestrations.OrchestrationSummary(m.Name, m.InstanceId, Map(m.RuntimeStatus).ToString(), m.CreatedAt, m.LastUpdatedAt))
                .ToList();
            return new CorePage(items, string.IsNullOrEmpty(page.ContinuationToken) ? null : Paging.Opaque(page.ContinuationToken));
        }
        return new CorePage([], null);
    }

    static OrchestrationRuntimeStatus Map(CoreStatus status) => status switch
    {
        CoreStatus.Pending => OrchestrationRuntimeStatus.Pending,
        CoreStatus.Completed => OrchestrationRuntimeStatus.Completed,
        CoreStatus.Failed => OrchestrationRuntimeStatus.Failed,
        CoreStatus.Terminated => OrchestrationRuntimeStatus.Terminated,
        _ => OrchestrationRuntimeStatus.Running,
    };

    async Task<bool> IsUnfinishedAsync(string instanceId) =>
        await Client.GetInstanceAsync(instanceId, getInputsAndOutputs: false) is { IsCompleted: false };

    /// <summary>
    /// A failed instance's output is the failure's message as plain text, not JSON; its failure details carry it, and
    /// the core (like the local engine) has no output for a failed instance.
    /// </summary>
    static OrchestrationStatus Map(OrchestrationMetadata m) => new(
        m.Name, m.InstanceId, Map(m.RuntimeStatus), Json(m.SerializedInput), Json(m.SerializedCustomStatus),
        m.RuntimeStatus == OrchestrationRuntimeStatus.Failed ? null : Json(m.SerializedOutput),
        m.CreatedAt, m.LastUpdatedAt,
        m.FailureDetails is { } f ? new FailureDetails(f.ErrorType, f.ErrorMessage) : null);

    static CoreStatus Map(OrchestrationRuntimeStatus status) => status switch
    {
        OrchestrationRuntimeStatus.Pending => CoreStatus.Pending,
        OrchestrationRuntimeStatus.Completed => CoreStatus.Completed,
        OrchestrationRuntimeStatus.Failed => CoreStatus.Failed,
        OrchestrationRuntimeStatus.Terminated => CoreStatus.Terminated,
        _ => CoreStatus.Running,   // Running, and Suspended where the SDK has it: not finished
    };

    static JsonElement? Json(string? serialized) => serialized is null ? null : JsonDocument.Parse(serialized).RootElement.Clone();
}

public static class DurableRegistration
{
    /// <summary>The core's orchestration client over Durable; orchestrators and activities are functions (Durable/*Functions.cs).</summary>
    public static IServiceCollection AddDurableOrchestrationClient(this IServiceCollection services)
    {
        services.AddSingleton<DurableClientScope>();
        services.AddSingleton<IOrchestrationClient, DurableOrchestrationClient>();
        return services;
    }
}
