using Cdp.Shared.Notifications;
using Cdp.Shared.Operations.Alerts;
using Cdp.Shared.Operations.Overview;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Cdp.Shared.Operations;

public static class OpsExtensions
{
    /// <summary>
    /// The per-minute rollup (recorder + its flush and this host's heartbeat), the alert rules and their evaluator, the
    /// overview, and the notification topic's handler (its consumer is added by the caller where topics are consumed).
    /// The evaluator posts through the sync alerts' robot client (registered by AddSync in both hosts).
    /// </summary>
    public static IServiceCollection AddOps(this IServiceCollection services)
    {
        services.AddOptions<OpsOptions>().BindConfiguration(OpsOptions.Section);
        services.AddOptions<AlertOptions>().BindConfiguration(AlertOptions.Section);
        services.AddOptions<NotificationOptions>().BindConfiguration(NotificationOptions.Section);
        services.TryAddSingleton<OpsRecorder>();
        services.TryAddSingleton<HostHeartbeat>();
        services.AddHostedService<OpsBackground>();
        services.TryAddTransient<AlertEvaluator>();
        services.TryAddSingleton<AlertHistory>();
        services.TryAddSingleton<OpsOverview>();
        services.TryAddSingleton<NotifyOwner>();
        return services;
    }
}
