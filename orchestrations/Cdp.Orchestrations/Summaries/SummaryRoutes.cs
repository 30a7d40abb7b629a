using Cdp.Shared.Access;
using Cdp.Shared.Api;
using Cdp.Shared.Summaries;
using Microsoft.Extensions.Options;

namespace Cdp.Orchestrations.Summaries;

public static class SummaryRoutes
{
    public const string RecalculatePath = "admin/summaries/recalculate";

    /// <summary>What the hourly timer does, on demand: 202 with the check-status links; a start while a run goes returns that run.</summary>
    public static readonly ApiRoute RecalculateSummaries = ApiRoute.Post(nameof(RecalculateSummaries), RecalculatePath, Permissions.OpsAdmin, async call =>
        CheckStatus.Accepted(call, await FullSummaryRecalculation.StartAsync(
            call.Service<IOrchestrationClient>(), call.Service<IOptions<SummariesOptions>>().Value)));

    public static IEnumerable<ApiRoute> All => [RecalculateSummaries];
}
