using Cdp.Orchestrations;
using Cdp.Orchestrations.Summaries;
using Cdp.Shared.Operations;
using Cdp.Shared.Operations.Overview;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;

namespace Cdp.Functions.Http;

/// <summary>Health, the on-demand recalculation and the product's own orchestration routes (never Durable's management URLs).</summary>
public sealed class OperationsFunctions(AzureApi api)
{
    [Function(nameof(OperationsRoutes.Health))]
    public Task<IResult> Health(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = OperationsRoutes.HealthPath)] HttpRequest request) =>
        api.RunAsync(OperationsRoutes.Health, request);

    [Function(nameof(OpsRoutes.OpsOverview))]
    public Task<IResult> OpsOverview(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = OpsRoutes.OverviewPath)] HttpRequest request) =>
        api.RunAsync(OpsRoutes.OpsOverview, request);

    [Function(nameof(OpsRoutes.OpsAlerts))]
    public Task<IResult> OpsAlerts(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = OpsRoutes.AlertsPath)] HttpRequest request) =>
        api.RunAsync(OpsRoutes.OpsAlerts, request);

    [Function(nameof(SummaryRoutes.RecalculateSummaries))]
    public Task<IResult> RecalculateSummaries(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = SummaryRoutes.RecalculatePath)] HttpRequest request,
        [DurableClient] DurableTaskClient client) =>
        api.RunAsync(SummaryRoutes.RecalculateSummaries, request, client);

    [Function(nameof(OrchestrationRoutes.ListOrchestrations))]
    public Task<IResult> ListOrchestrations(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = OrchestrationRoutes.ListPath)] HttpRequest request,
        [DurableClient] DurableTaskClient client) =>
        api.RunAsync(OrchestrationRoutes.ListOrchestrations, request, client);

    [Function(nameof(OrchestrationRoutes.GetOrchestration))]
    public Task<IResult> GetOrchestration(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = OrchestrationRoutes.InstancePath)] HttpRequest request, string instanceId,
        [DurableClient] DurableTaskClient client) =>
        api.RunAsync(OrchestrationRoutes.GetOrchestration, request, client, ("instanceId", instanceId));

    [Function(nameof(OrchestrationRoutes.TerminateOrchestration))]
    public Task<IResult> TerminateOrchestration(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = OrchestrationRoutes.TerminatePath)] HttpRequest request, string instanceId,
        [DurableClient] DurableTaskClient client) =>
        api.RunAsync(OrchestrationRoutes.TerminateOrchestration, request, client, ("instanceId", instanceId));

    [Function(nameof(OrchestrationRoutes.RaiseOrchestrationEvent))]
    public Task<IResult> RaiseOrchestrationEvent(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = OrchestrationRoutes.RaiseEventPath)] HttpRequest request, string instanceId,
        string eventName, [DurableClient] DurableTaskClient client) =>
        api.RunAsync(OrchestrationRoutes.RaiseOrchestrationEvent, request, client, ("instanceId", instanceId), ("eventName", eventName));
}
