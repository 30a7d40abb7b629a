using Cdp.Functions.Durable;
using Cdp.Orchestrations;
using Cdp.Orchestrations.Summaries;
using Cdp.Shared.Summaries;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Options;

namespace Cdp.Functions.Http;

public sealed class SummaryFunctions(IOrchestrationClient orchestrations, IOptions<SummariesOptions> options, DurableClientScope durable)
{
    /// <summary>What the hourly timer does, on demand: 202 with the check-status links; a start while a run goes returns that run.</summary>
    [Function("RecalculateSummaries")]
    public async Task<IResult> Recalculate(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "admin/summaries/recalculate")] HttpRequest request,
        [DurableClient] DurableTaskClient client)
    {
        using var scope = durable.Use(client);
        return CheckStatusLinks.Accepted(client, await FullSummaryRecalculation.StartAsync(orchestrations, options.Value));
    }
}
