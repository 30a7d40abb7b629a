using Cdp.Orchestrations.Sync;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cdp.Orchestrations;

/// <summary>Bound from "Housekeeping".</summary>
public sealed class HousekeepingOptions
{
    public const string Section = "Housekeeping";

    /// <summary>How often the housekeeping timer runs (the Azure host's timer trigger has its own schedule).</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Finished orchestrations (and their history) are kept this long for inspection, then purged.</summary>
    public TimeSpan RetainFinishedOrchestrations { get; set; } = TimeSpan.FromDays(7);
}

/// <summary>
/// What the housekeeping timer does: purge orchestrations that finished longer ago than the retention, and (when the
/// sync is registered) start the push of sync tasks a crash left pending.
/// </summary>
public sealed class Housekeeping(
    IOrchestrationClient orchestrations, IOptions<HousekeepingOptions> options, TimeProvider clock, ILogger<Housekeeping> logger,
    RedriveStrandedSyncTasks? strandedSyncTasks = null)
{
    public async Task<int> RunAsync()
    {
        var purged = await orchestrations.PurgeAsync(clock.GetUtcNow() - options.Value.RetainFinishedOrchestrations);
        if (purged > 0) logger.LogInformation("Housekeeping purged {Count} finished orchestration instance(s)", purged);
        if (strandedSyncTasks is not null) await strandedSyncTasks.RunAsync(CancellationToken.None);
        return purged;
    }
}

/// <summary>The local host's stand-in for a timer trigger: runs <see cref="Housekeeping"/> every interval.</summary>
public sealed class HousekeepingTimer(Housekeeping housekeeping, IOptions<HousekeepingOptions> options, ILogger<HousekeepingTimer> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.Interval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try { await housekeeping.RunAsync(); }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested) { logger.LogError(e, "Housekeeping failed; trying again next interval"); }
        }
    }
}

public static class HousekeepingRegistration
{
    public static IServiceCollection AddHousekeeping(this IServiceCollection services)
    {
        services.AddOptions<HousekeepingOptions>().BindConfiguration(HousekeepingOptions.Section)
            .Validate(o => o.Interval > TimeSpan.Zero && o.RetainFinishedOrchestrations >= TimeSpan.Zero, "Housekeeping:Interval must be positive")
            .ValidateOnStart();
        services.AddSingleton<Housekeeping>();
        return services;
    }
}
