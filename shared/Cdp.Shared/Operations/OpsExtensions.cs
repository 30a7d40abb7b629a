using Cdp.Shared.Notifications;
using Cdp.Shared.Operations.Alerts;
using Cdp.Shared.Operations.Overview;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Cdp.Shared.Http;
using Cdp.Shared.Sync;

namespace Cdp.Shared.Operations;

public static class OpsExtensions
{
    /// <summary>
    /// The per-minute rollup (recorder + its flush and this host's heartbeat), the alert rules and their evaluator, the
    /// overview, and the notification topic's handler (its consumer is added by the caller where topics are consumed).
    /// The robot every alert goes out through, with the resilience of <c>Sync:AlertHttp</c>.
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
        services.AddHttpClient<AlertRobot>()
            .AddOutboundResilience(sp => sp.GetRequiredService<IOptions<SyncOptions>>().Value.AlertHttp);
        return services;
    }
}
