using Cdp.Functions.Durable;
using Cdp.Shared.Api;
using Microsoft.AspNetCore.Http;
using Microsoft.DurableTask.Client;

namespace Cdp.Functions.Http;

/// <summary>
/// Hands an HTTP trigger's request to the core's route, as the local host's router does: the trigger's bound route
/// values go where the route reads them, and a function bound to Durable's client lends it to the core for the call.
/// </summary>
public sealed class AzureApi(DurableClientScope durable)
{
    public Task<IResult> RunAsync(ApiRoute route, HttpRequest request, params (string Name, string Value)[] routeValues)
    {
        foreach (var (name, value) in routeValues) request.RouteValues[name] = value;
        return ApiSurface.RunAsync(route, request.HttpContext);
    }

    public async Task<IResult> RunAsync(ApiRoute route, HttpRequest request, DurableTaskClient client, params (string Name, string Value)[] routeValues)
    {
        using var scope = durable.Use(client);
        return await RunAsync(route, request, routeValues);
    }
}
