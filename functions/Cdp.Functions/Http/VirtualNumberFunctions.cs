using Cdp.Orchestrations.VirtualNumbers;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;

namespace Cdp.Functions.Http;

/// <summary>Privacy-number bindings (API.md "Virtual numbers"); binding and unbinding reach the Durable orchestration.</summary>
public sealed class VirtualNumberFunctions(AzureApi api)
{
    [Function(nameof(VirtualNumberRoutes.CreateBinding))]
    public Task<IResult> CreateBinding(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = VirtualNumberRoutes.BindingsPath)] HttpRequest request,
        [DurableClient] DurableTaskClient client) =>
        api.RunAsync(VirtualNumberRoutes.CreateBinding, request, client);

    [Function(nameof(VirtualNumberRoutes.GetBinding))]
    public Task<IResult> GetBinding(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = VirtualNumberRoutes.BindingPath)] HttpRequest request, string bindingId) =>
        api.RunAsync(VirtualNumberRoutes.GetBinding, request, ("bindingId", bindingId));

    [Function(nameof(VirtualNumberRoutes.DeleteBinding))]
    public Task<IResult> DeleteBinding(
        [HttpTrigger(AuthorizationLevel.Anonymous, "delete", Route = VirtualNumberRoutes.BindingPath)] HttpRequest request, string bindingId,
        [DurableClient] DurableTaskClient client) =>
        api.RunAsync(VirtualNumberRoutes.DeleteBinding, request, client, ("bindingId", bindingId));

    [Function(nameof(VirtualNumberRoutes.GetVirtualNumber))]
    public Task<IResult> GetVirtualNumber(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = VirtualNumberRoutes.NumberPath)] HttpRequest request, string virtualNumber) =>
        api.RunAsync(VirtualNumberRoutes.GetVirtualNumber, request, ("virtualNumber", virtualNumber));
}
