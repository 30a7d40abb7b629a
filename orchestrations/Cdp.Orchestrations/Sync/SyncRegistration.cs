using Cdp.Shared.Customers;
using Cdp.Shared.Http;
using Cdp.Shared.Sync;
using Cdp.Shared.Telemetry;
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Cdp.Orchestrations.Sync;

/// <summary>Starts <see cref="SyncThenRetry"/> for a task under <c>sync-{taskId}</c>.</summary>
public sealed class OrchestratedSyncRunner(IOrchestrationClient client, IOptions<SyncOptions> options) : ISyncRunner
{
    public async Task StartAsync(Guid syncTaskId, CancellationToken ct)
    {
        var instanceId = SyncThenRetry.InstanceIdOf(syncTaskId);
        // A re-driven task's previous run may still be sending its alert; starting a running id would be a no-op.
        if (await client.GetStatusAsync(instanceId) is { IsFinished: false })
            await client.WaitForCompletionAsync(instanceId, TimeSpan.FromSeconds(30));
        // The orchestration's span: its activities continue from it (the trace context travels in the input).
        using var span = CdpTelemetry.Start($"orchestration {nameof(SyncThenRetry)}", ActivityKind.Producer);
        span?.SetTag("cdp.orchestration.instance_id", instanceId);
        await client.StartAsync(nameof(SyncThenRetry), new SyncThenRetryInput(syncTaskId, options.Value.Schedule(), CdpTelemetry.CurrentTraceParent), instanceId);
    }
}

public static class SyncRegistration
{
    /// <summary>
    /// The sidebar sync: options <c>Sync</c> (validated on start), the use cases, the targets by name (wecom_tags,
    /// wecom_follow_up, finance), the alert client, and the orchestrator with its activities. Needs the platform's
    /// WeCom client and data source, and an orchestration engine (AddLocalOrchestrations or Durable on Azure).
    /// </summary>
    public static IServiceCollection AddSync(this IServiceCollection services)
    {
        services.AddCustomerViewCache();   // its writes delete the cached customer views they change
        services.AddOptions<SyncOptions>()
            .BindConfiguration(SyncOptions.Section)
            .Validate(o => !o.Errors().Any(), "Invalid Sync options (see SyncOptions.Errors)")
            .ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<SyncTaskStore>();
        services.TryAddSingleton<ISyncRunner, OrchestratedSyncRunner>();
        services.TryAddSingleton<SaveContactTags>();
        services.TryAddSingleton<AddFollowUp>();
        services.TryAddSingleton<RetrySyncTask>();
        services.TryAddSingleton<RedriveStrandedSyncTasks>();
        services.TryAddTransient<PushSyncChange>();
        services.TryAddTransient<AlertSyncFailure>();
        services.TryAddTransient<SyncTargetRegistry>();

        services.AddSyncTarget<WeComTagsTarget>();
        services.AddSyncTarget<WeComFollowUpTarget>();
        services.AddHttpClient<FinanceTarget>((sp, http) =>
            {
                var url = sp.GetRequiredService<IOptions<SyncOptions>>().Value.Finance.BaseUrl;
                if (!string.IsNullOrEmpty(url)) http.BaseAddress = new Uri(url.TrimEnd('/') + "/");
            })
            .AddOutboundResilience(sp => sp.GetRequiredService<IOptions<SyncOptions>>().Value.Finance.Http);
        services.AddTransient<ISyncTarget>(sp => sp.GetRequiredService<FinanceTarget>());

        services.AddOrchestrator<SyncThenRetry>();
        services.AddActivity<PushSyncTask>();
        services.AddActivity<MarkSyncTaskFailed>();
        services.AddActivity<SendSyncAlert>();
        return services;
    }

    /// <summary>Adds a push target; its <see cref="ISyncTarget.Name"/> is the sync_task.target it serves.</summary>
    public static IServiceCollection AddSyncTarget<T>(this IServiceCollection services) where T : class, ISyncTarget
    {
        services.TryAddTransient<T>();
        services.AddTransient<ISyncTarget>(sp => sp.GetRequiredService<T>());
        return services;
    }
}
