using Cdp.Orchestrations.Privacy;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;

namespace Cdp.Functions.Http;

/// <summary>PIPL: a person's data exported or erased, and an erasure's progress.</summary>
public sealed class PrivacyFunctions(AzureApi api)
{
    [Function(nameof(PrivacyRoutes.ExportSubject))]
    public Task<IResult> ExportSubject(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = PrivacyRoutes.ExportPath)] HttpRequest request) =>
        api.RunAsync(PrivacyRoutes.ExportSubject, request);

    [Function(nameof(PrivacyRoutes.EraseSubject))]
    public Task<IResult> EraseSubject(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = PrivacyRoutes.ErasePath)] HttpRequest request,
        [DurableClient] DurableTaskClient client) =>
        api.RunAsync(PrivacyRoutes.EraseSubject, request, client);

    [Function(nameof(PrivacyRoutes.GetPrivacyRequest))]
    public Task<IResult> GetPrivacyRequest(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = PrivacyRoutes.RequestPath)] HttpRequest request, string requestId) =>
        api.RunAsync(PrivacyRoutes.GetPrivacyRequest, request, ("requestId", requestId));
}
