using System.Text.Json;
using Cdp.Orchestrations;
using Cdp.Shared.Api;

namespace Cdp.Functions.Local;

/// <summary>
/// The Durable Functions HTTP management routes, answered by the local engine the way the Functions host answers
/// them on Azure (runtimeStatus as Durable names it: Pending, Running, Completed, Failed, Terminated).
/// </summary>
public static class DurableEndpoints
{
    const string Instances = "/runtime/webhooks/durabletask/instances";

    public sealed record InstanceStatus(
        string Name, string InstanceId, string RuntimeStatus, JsonElement? Input, JsonElement? CustomStatus,
        JsonElement? Output, DateTimeOffset CreatedTime, DateTimeOffset LastUpdatedTime);

    public static void MapDurableManagement(this IEndpointRouteBuilder app)
    {
        app.MapGet(Instances + "/{instanceId}", async (string instanceId, IOrchestrationClient client) =>
            Results.Ok(ToResponse(await Existing(client, instanceId))));

        app.MapPost(Instances + "/{instanceId}/terminate", async (string instanceId, string? reason, IOrchestrationClient client) =>
        {
            await Existing(client, instanceId);
            await client.TerminateAsync(instanceId, reason);
            return Results.Accepted();
        });

        app.MapPost(Instances + "/{instanceId}/raiseEvent/{eventName}", async (string instanceId, string eventName, HttpRequest request, IOrchestrationClient client, CancellationToken ct) =>
        {
            await Existing(client, instanceId);
            JsonElement? data = null;
            if (request.ContentLength is > 0 || request.Headers.TransferEncoding.Count > 0)
            {
                try { data = (await JsonDocument.ParseAsync(request.Body, cancellationToken: ct)).RootElement.Clone(); }
                catch (JsonException e) { throw new ApiProblemException(ApiProblem.BadRequest($"The event data must be JSON: {e.Message}")); }
            }
            await client.RaiseEventAsync(instanceId, eventName, data);
            return Results.Accepted();
        });
    }

    public static InstanceStatus ToResponse(OrchestrationStatus s) =>
        new(s.Name, s.InstanceId, s.RuntimeStatus.ToString(), s.Input, s.CustomStatus, s.Output, s.CreatedTime, s.LastUpdatedTime);

    static async Task<OrchestrationStatus> Existing(IOrchestrationClient client, string instanceId) =>
        await client.GetStatusAsync(instanceId)
        ?? throw new ApiProblemException(ApiProblem.NotFound($"No orchestration instance '{instanceId}'."));
}
