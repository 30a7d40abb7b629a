using Cdp.Shared.Access;
using Cdp.Shared.Channels.WeCom;
using Cdp.Shared.Customers;
using Cdp.Shared.Events;
using Cdp.Shared.Identity;
using Cdp.Shared.Ingestion;
using Cdp.Shared.Messaging;
using Cdp.Shared.Operations;
using Cdp.Shared.Privacy;
using Cdp.Shared.Search;
using Cdp.Shared.Storage;
using Cdp.Shared.Summaries;
using Cdp.Shared.Telemetry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace Cdp.Shared;

/// <summary>The one registration both hosts call: stores, channels, the pipeline's consumers.</summary>
public static class CdpPlatform
{
    public static IHostApplicationBuilder AddCdpPlatform(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        Access.PiiHash.UseKey(builder.Configuration[Access.PiiHash.SettingName]);
        // Resolved from the final configuration (not at registration), so test hosts and Azure app settings apply.
        services.AddSingleton(sp => CreateDataSource(sp.GetRequiredService<IConfiguration>().GetConnectionString("Postgres")
            ?? throw new InvalidOperationException("ConnectionStrings:Postgres is not set.")));
        services.AddHostedService<MigrateOnStart>();   // first, so consumers start on the current schema
        services.AddSingleton(TimeProvider.System);
        services.TryAddSingleton<RedisConnection>();
        services.AddHostedService<ConnectRedisOnStart>();
        services.AddSingleton<HealthCheck>();
        builder.AddCdpTelemetry();
        services.AddOps();
        services.AddAccess();
        services.AddStrongSecrets();

        foreach (var channel in ChannelRegistry.All)
            services.AddOptions<ChannelOptions>(channel.Name).BindConfiguration(channel.SettingsSection);
        services.AddOptions<IngestionOptions>().BindConfiguration(IngestionOptions.Section);
        builder.AddWeCom();
        services.AddSingleton<IngestionStore>();
        services.AddSingleton<ChannelWebhook>();
        services.TryAddSingleton<VirtualNumbers.BindingStore>();
        services.TryAddSingleton<VirtualNumbers.CallRecords>();
        services.AddSingleton<IngestionStatusQuery>();
        services.AddOptions<Imports.ImportOptions>().BindConfiguration(Imports.ImportOptions.Section).Validate(o => { o.Validate(); return true; });
        services.AddSingleton<Imports.ImportStore>();
        services.AddSingleton<Imports.ImportStatusQuery>();
        services.AddIdentity();
        builder.AddEvents();
        services.AddCustomerViews();
        services.AddPrivacy();

        // A host can serve the API only (e.g. behind a load balancer) and leave consuming to others.
        var consume = builder.Configuration.GetValue("Topics:ConsumersEnabled", true);
        services.AddSummaries(consume);
        services.AddSingleton<CustomerSearch>();
        if (consume)
        {
            services.AddTopicConsumer<ProcessIngestion>();
            services.AddTopicConsumer<IdentityResolutionConsumer>();
            services.AddTopicConsumer<Notifications.NotifyOwner>();
            services.AddTopicConsumer<Imports.ImportChunks>();
        }
        return builder;
    }

    /// <summary>
    /// The pipeline runs the same few statements thousands of times a second; letting Npgsql prepare them spares
    /// Postgres the parse and plan each time. A pooled connection is handed back without Npgsql's session reset (RESET
    /// ALL, CLOSE ALL, UNLISTEN *, advisory unlock, DISCARD …, sent with its next use): no code here leaves session state
    /// behind (settings are set_config(…, true), advisory locks are transaction locks but the migrations', which unlock
    /// explicitly, and the one LISTEN lives on a connection of its own), and the reset was half of Postgres's CPU for a
    /// cached 360 (measured: 0.21 -> 0.11 ms a read). The connection string can still set its own values for both.
    /// </summary>
    public static NpgsqlDataSource CreateDataSource(string connectionString)
    {
        var builder = new NpgsqlDataSourceBuilder(connectionString);
        if (!connectionString.Contains("Auto Prepare", StringComparison.OrdinalIgnoreCase))
        {
            builder.ConnectionStringBuilder.MaxAutoPrepare = 64;
            builder.ConnectionStringBuilder.AutoPrepareMinUsages = 2;
        }
        if (!connectionString.Contains("Reset On Close", StringComparison.OrdinalIgnoreCase))
            builder.ConnectionStringBuilder.NoResetOnClose = true;
        return builder.Build();
    }
}
