using System.Diagnostics;
using System.Text.Json;
using Cdp.Shared;
using Cdp.Shared.Telemetry;

namespace Cdp.Orchestrations;

/// <summary>An orchestrator as the engine sees it: JSON in, JSON out. Derive from <see cref="Orchestrator{TIn,TOut}"/>.</summary>
public interface IOrchestrator
{
    Task<string?> RunAsync(IOrchestrationContext context, string? inputJson);
}

/// <summary>An activity as the engine sees it: JSON in, JSON out. Derive from <see cref="Activity{TIn,TOut}"/>.</summary>
public interface IActivity
{
    Task<string?> RunAsync(string? inputJson, CancellationToken cancellationToken);
}

/// <summary>
/// Base of every orchestrator. Registered by class name (<c>services.AddOrchestrator&lt;X&gt;()</c>), started with
/// <c>nameof(X)</c>; resolved from DI for each episode. See <see cref="IOrchestrationContext"/> for the determinism rules.
/// </summary>
public abstract class Orchestrator<TIn, TOut> : IOrchestrator
{
    public abstract Task<TOut> RunAsync(IOrchestrationContext context, TIn input);

    async Task<string?> IOrchestrator.RunAsync(IOrchestrationContext context, string? inputJson)
    {
        var input = inputJson is null ? default : JsonSerializer.Deserialize<TIn>(inputJson, CdpJson.Options);
        TOut output;
        try
        {
            output = await RunAsync(context, input!);
        }
        catch when (!context.IsReplaying)
        {
            Count("failed");
            throw;
        }
        // The episode that finishes is never a replay, on either engine: counted once per instance.
        if (!context.IsReplaying) Count("completed");
        return JsonSerializer.Serialize(output, CdpJson.Options);
    }

    void Count(string status) => CdpTelemetry.Orchestrations.Add(1,
        new KeyValuePair<string, object?>("name", GetType().Name), new KeyValuePair<string, object?>("status", status));
}

/// <summary>
/// Base of every activity: the only place orchestrations do I/O. Runs at least once per call (a crash after the
/// work but before its result is stored runs it again), so make it idempotent — instance id + step is a natural key.
/// </summary>
public abstract class Activity<TIn, TOut> : IActivity
{
    public abstract Task<TOut> RunAsync(TIn input, CancellationToken cancellationToken);

    async Task<string?> IActivity.RunAsync(string? inputJson, CancellationToken cancellationToken)
    {
        var input = inputJson is null ? default : JsonSerializer.Deserialize<TIn>(inputJson, CdpJson.Options);
        var output = await RunTracedAsync(input!, cancellationToken);
        return JsonSerializer.Serialize(output, CdpJson.Options);
    }

    /// <summary>
    /// Runs the activity in a span continuing the trace its input carries (<see cref="ITraceCarrier"/>), so the calls
    /// it makes (WeCom, the finance system) belong to the change that started the orchestration. Both engines come here:
    /// the local worker through the JSON entry above, Durable's activity functions directly.
    /// </summary>
    public async Task<TOut> RunTracedAsync(TIn input, CancellationToken cancellationToken)
    {
        using var span = input is ITraceCarrier { TraceParent: { } parent } ? CdpTelemetry.StartFrom($"activity {GetType().Name}", ActivityKind.Internal, parent) : null;
        try
        {
            return await RunAsync(input, cancellationToken);
        }
        catch (Exception e)
        {
            span.Fail(e);
            throw;
        }
    }
}
