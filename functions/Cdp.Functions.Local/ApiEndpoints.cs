using Cdp.Orchestrations;
using Cdp.Shared.Api;
using Cdp.Shared.Telemetry;
using Microsoft.AspNetCore.WebUtilities;

namespace Cdp.Functions.Local;

/// <summary>The core's route table on Kestrel: every route of <see cref="ApiRoutes.All"/> under /api, and the OpenAPI document.</summary>
public static class ApiEndpoints
{
    public const string OpenApiPath = "/api/openapi.json";

    public static void MapApi(this WebApplication app)
    {
        foreach (var route in ApiRoutes.All)
        {
            var endpoint = Map(app, "/api/" + route.Path, route).WithName(route.Name);
            if (route == CorsRoutes.Preflight) endpoint.ExcludeFromDescription();   // the browser's business, no operation
        }
        // Tools written against Durable Functions poll these; the product's own links point at /api/orchestrations.
        foreach (var route in OrchestrationRoutes.DurableStyle) Map(app, "/" + route.Path, route).WithName(route.Name).ExcludeFromDescription();
        // Prometheus text at the root where scrapers look, through the same admission (ops:read) as every route.
        foreach (var route in TelemetryRoutes.LocalRoot) Map(app, "/" + route.Path, route).WithName(route.Name).ExcludeFromDescription();
        app.MapOpenApi(OpenApiPath);
    }

    static RouteHandlerBuilder Map(WebApplication app, string pattern, ApiRoute route)
    {
        // A Func, not a RequestDelegate: the minimal-API pipeline then executes the IResult the route returns.
        Func<HttpContext, Task<IResult>> handler = http => ApiSurface.RunAsync(route, http);
        return app.MapMethods(pattern, route.Methods, handler);
    }

    /// <summary>Statuses the framework sets with no body (an unmatched path, a wrong method) get the core's problem body too.</summary>
    public static void UseApiStatusPages(this WebApplication app) =>
        app.UseStatusCodePages(context =>
        {
            var http = context.HttpContext;
            // The preflight route takes OPTIONS on every path, so routing calls any other method on a path no route serves
            // "not allowed, only OPTIONS": that path is still not found (as the Azure host answers it).
            if (http.Response.StatusCode == StatusCodes.Status405MethodNotAllowed && http.Response.Headers.Allow == "OPTIONS")
            {
                http.Response.StatusCode = StatusCodes.Status404NotFound;
                http.Response.Headers.Remove("Allow");
            }
            var status = http.Response.StatusCode;
            return ApiSurface.Problem(http, new ApiProblem(status, ReasonPhrases.GetReasonPhrase(status))).ExecuteAsync(http);
        });
}
