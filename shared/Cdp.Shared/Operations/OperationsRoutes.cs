using Cdp.Shared.Access;
using Microsoft.AspNetCore.Http;
using Cdp.Shared.Api;

namespace Cdp.Shared.Operations;

public static class OperationsRoutes
{
    public const string HealthPath = "health";

    /// <summary>Anyone may ask whether the platform is up; the per-dependency detail needs ops:read.</summary>
    public static readonly ApiRoute Health = ApiRoute.Get(nameof(Health), HealthPath, ApiRoute.Public, async call =>
    {
        var report = await call.Service<HealthCheck>().CheckAsync(call.Aborted);
        var status = report.Healthy ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable;
        // Load balancers get the verdict; which dependency is down, and its latency, is for operations.
        return call.Caller.Has(Permissions.OpsRead) ? ApiResults.Json(report, status) : ApiResults.Json(new { report.Healthy }, status);
    });

    public static IEnumerable<ApiRoute> All => [Health];
}
