using Cdp.Shared.Summaries;

namespace Cdp.Orchestrations.Summaries;

/// <summary>
/// Starts the full recalculation: what the admin endpoint and the timer (a hosted service locally, a timer trigger on
/// Azure) do. A start while a run is going returns that run's id (the instance id is a singleton).
/// </summary>
public static class FullSummaryRecalculation
{
    public static Task<string> StartAsync(IOrchestrationClient orchestrations, SummariesOptions options) =>
        orchestrations.StartAsync(nameof(RecalculateAllSummariesOrchestrator), new RecalculateAllSummaries(options.BatchSize),
            RecalculateAllSummariesOrchestrator.InstanceId);
}
