using Cdp.Shared.Access;
using Cdp.Shared.Api;
using Cdp.Shared.Operations.Alerts;

namespace Cdp.Shared.Operations.Overview;

/// <summary>The operations console's dashboard and the alert history (ops:read).</summary>
public static class OpsRoutes
{
    public const string OverviewPath = "ops/overview";
    public const string AlertsPath = "ops/alerts";

    public static readonly ApiRoute OpsOverview = ApiRoute.Get(nameof(OpsOverview), OverviewPath, Permissions.OpsRead, async call =>
        ApiResults.Json(await call.Service<OpsOverview>().GetAsync(call.Aborted)));

    /// <summary>?state=open|resolved (both when absent), newest first, at most 500.</summary>
    public static readonly ApiRoute OpsAlerts = ApiRoute.Get(nameof(OpsAlerts), AlertsPath, Permissions.OpsRead, async call =>
    {
        var state = call.Query("state");
        if (state is not (null or "" or AlertHistory.Open or AlertHistory.Resolved))
            throw ApiProblemException.Invalid("state", "Must be 'open' or 'resolved'.");
        return ApiResults.Json(new { alerts = await call.Service<AlertHistory>().ListAsync(state, 500, call.Aborted) });
    });

    public static IEnumerable<ApiRoute> All => [OpsOverview, OpsAlerts];
}
