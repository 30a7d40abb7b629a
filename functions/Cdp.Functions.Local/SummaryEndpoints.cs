using Cdp.Orchestrations;
using Cdp.Orchestrations.Summaries;
using Cdp.Shared.Api;
using Cdp.Shared.Summaries;
using Microsoft.Extensions.Options;

namespace Cdp.Functions.Local;

public static class SummaryEndpoints
{
    public static void MapSummaries(this IEndpointRouteBuilder app)
    {
        // 202 with Durable's check-status body; a start while a run is going returns that run's id.
        app.MapPost("/api/admin/summaries/recalculate", async (HttpRequest http, IOrchestrationClient orchestrations, IOptions<SummariesOptions> options) =>
        {
            var id = await FullSummaryRecalculation.StartAsync(orchestrations, options.Value);
            var instance = $"{http.Scheme}://{http.Host}/runtime/webhooks/durabletask/instances/{Uri.EscapeDataString(id)}";
            return Results.Accepted(instance, new ConversionEndpoints.CheckStatus(
                id, instance, instance + "/raiseEvent/{eventName}", instance + "/terminate?reason={text}"));
        });
    }
}

/// <summary>Starts the full recalculation: what the admin endpoint and the timer do.</summary>
public static class FullSummaryRecalculation
{
    public static Task<string> StartAsync(IOrchestrationClient orchestrations, SummariesOptions options) =>
        orchestrations.StartAsync(nameof(RecalculateAllSummariesOrchestrator), new RecalculateAllSummaries(options.BatchSize),
            RecalculateAllSummariesOrchestrator.InstanceId);
}

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
