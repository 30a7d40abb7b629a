using Microsoft.AspNetCore.Http;
using Cdp.Shared.Api;

namespace Cdp.Shared.Operations;

public static class OperationsRoutes
{
    public const string HealthPath = "health";

    public static readonly ApiRoute Health = ApiRoute.Get(nameof(Health), HealthPath, async call =>
    {
        var report = await call.Service<HealthCheck>().CheckAsync(call.Aborted);
        return ApiResults.Json(report, report.Healthy ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
    });

    public static IEnumerable<ApiRoute> All => [Health];
}
