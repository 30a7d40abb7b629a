using Cdp.Orchestrations;
using Cdp.Orchestrations.Summaries;
using Cdp.Shared.Summaries;
using Microsoft.Extensions.Options;

namespace Cdp.Functions.Local;

/// <summary>
/// The timer trigger's stand-in: every <see cref="SummariesOptions.FullRecalculationInterval"/> (hourly by default;
/// first after one interval, not at start) it starts the full recalculation. Every host runs it; the singleton
/// instance id keeps runs from overlapping.
/// </summary>
public sealed class SummaryRecalculationTimer(
    IOrchestrationClient orchestrations, IOptions<SummariesOptions> options, ILogger<SummaryRecalculationTimer> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.FullRecalculationInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    var id = await FullSummaryRecalculation.StartAsync(orchestrations, options.Value);
                    logger.LogInformation("Full summary recalculation started ({InstanceId})", id);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.LogWarning(e, "Could not start the full summary recalculation; next tick tries again");
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
