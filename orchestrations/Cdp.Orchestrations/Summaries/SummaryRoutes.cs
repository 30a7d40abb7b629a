using Cdp.Shared.Access;
using Cdp.Shared.Api;
using Cdp.Shared.Summaries;
using Microsoft.Extensions.Options;

namespace Cdp.Orchestrations.Summaries;

public static class SummaryRoutes
{
    public const string RecalculatePath = "admin/summaries/recalculate";

    /// <summary>
    /// What the hourly timer does, on demand: 202 with the check-status links; a start while a run goes returns that run.
    /// Starting an orchestration is no database transaction of ours, so the audit row follows a successful start.
    /// </summary>
    public static readonly ApiRoute RecalculateSummaries = ApiRoute.Post(nameof(RecalculateSummaries), RecalculatePath, Permissions.OpsAdmin, async call =>
    {
        var instanceId = await FullSummaryRecalculation.StartAsync(
            call.Service<IOrchestrationClient>(), call.Service<IOptions<SummariesOptions>>().Value);
        await call.Service<AuditLog>().WriteAsync(call.Actor.Did("summaries.recalculate", "orchestration", instanceId), call.Aborted);
        return CheckStatus.Accepted(call, instanceId);
    });

    public static IEnumerable<ApiRoute> All => [RecalculateSummaries];
}
