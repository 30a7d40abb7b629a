using Cdp.Shared.Access;
using Cdp.Shared.Api;
using Microsoft.AspNetCore.Http;

namespace Cdp.Shared.Telemetry;

/// <summary>
/// <c>GET /metrics</c> (local host only, at the root where Prometheus looks; API.md "Operations"): this process's
/// instruments as Prometheus text, for a caller with <c>ops:read</c> (a scrape job sends an API key as a bearer token).
/// On Azure, Azure Monitor plays this part.
/// </summary>
public static class TelemetryRoutes
{
    public const string MetricsPath = "metrics";

    public static readonly ApiRoute Metrics = ApiRoute.Get(nameof(Metrics), MetricsPath, Permissions.OpsRead, async call =>
    {
        var stored = call.Service<StoredGauges>();
        await stored.RefreshIfStaleAsync(call.Aborted);
        string text;
        using (stored.Scope()) text = call.Service<PrometheusText>().Scrape();
        return Results.Text(text, "text/plain; version=0.0.4; charset=utf-8");
    });

    /// <summary>Routes the local host maps at the root instead of under /api (no Azure trigger).</summary>
    public static IEnumerable<ApiRoute> LocalRoot => [Metrics];
}
