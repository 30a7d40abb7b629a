using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cdp.Shared.Operations.Alerts;

/// <summary>
/// The local host's alert timer (the Azure host's is the AlertTimer timer trigger): every <see cref="AlertOptions.Interval"/>
/// it evaluates the rules. Every host runs it; the evaluation lock lets one of them act per turn.
/// </summary>
public sealed class AlertTimer(IServiceScopeFactory scopes, IOptions<AlertOptions> options, ILogger<AlertTimer> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.Enabled) return;
        using var timer = new PeriodicTimer(options.Value.Interval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    using var scope = scopes.CreateScope();
                    await scope.ServiceProvider.GetRequiredService<AlertEvaluator>().EvaluateAsync(stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.LogWarning(e, "Alert evaluation failed; next tick tries again");
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
