using Cdp.Shared.Operations;

namespace Cdp.Functions.Local;

public static class OperationsEndpoints
{
    public static void MapOperations(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/health", async (HealthCheck health, CancellationToken ct) =>
        {
            var report = await health.CheckAsync(ct);
            return Results.Json(report, statusCode: report.Healthy ? 200 : 503);
        });
    }
}
