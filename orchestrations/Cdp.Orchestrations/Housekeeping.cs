using Cdp.Orchestrations.Privacy;
using Cdp.Orchestrations.Sync;
using Cdp.Shared.Privacy;
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
/// What the housekeeping timer does: purge orchestrations that finished longer ago than the retention, apply the PIPL
/// retention (<see cref="ApplyRetention"/>), and (when registered) start the push of sync tasks a crash left pending and
/// resume privacy requests left unfinished.
/// </summary>
public sealed class Housekeeping(
    IOrchestrationClient orchestrations, ApplyRetention retention, IOptions<HousekeepingOptions> options, TimeProvider clock,
    ILogger<Housekeeping> logger, RedriveStrandedSyncTasks? strandedSyncTasks = null, ResumePrivacyRequests? privacyRequests = null)
{
    public async Task<int> RunAsync()
    {
        var purged = await orchestrations.PurgeAsync(clock.GetUtcNow() - options.Value.RetainFinishedOrchestrations);
        if (purged > 0) logger.LogInformation("Housekeeping purged {Count} finished orchestration instance(s)", purged);
        await retention.RunAsync(CancellationToken.None);
        if (strandedSyncTasks is not null) await strandedSyncTasks.RunAsync(CancellationToken.None);
        if (privacyRequests is not null) await privacyRequests.RunAsync(CancellationToken.None);
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
