using Azure.Core.Serialization;
using Cdp.Functions.Durable;
using Cdp.Functions.Http;
using Cdp.Functions.Kafka;
using Cdp.Functions.Outbox;
using Cdp.Orchestrations;
using Cdp.Orchestrations.Conversion;
using Cdp.Orchestrations.Privacy;
using Cdp.Orchestrations.Summaries;
using Cdp.Orchestrations.Sync;
using Cdp.Orchestrations.VirtualNumbers;
using Cdp.Shared;
using Cdp.Shared.Messaging;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Cdp.Functions;

/// <summary>
/// What the Azure host registers beside the Functions worker itself; the tests build the same service collection to
/// run this host's functions.
/// </summary>
public static class AzureHost
{
    public static IHostApplicationBuilder AddAzureHost(this IHostApplicationBuilder builder)
    {
        // Kafka triggers consume here; topic_message is only the outbox, relayed to Event Hubs (never read by local consumers).
        builder.Configuration.AddInMemoryCollection([new("Topics:ConsumersEnabled", "false")]);
        builder.AddCdpPlatform();
        builder.Services.AddBrokerDelivery();
        builder.Services.AddOutboxRelay();
        builder.Services.AddSingleton<IOutboxSink, KafkaOutboxSink>();
        builder.Services.AddDurableOrchestrationClient();   // Durable Functions plays the local engine's part
        builder.Services.AddSingleton<AzureApi>();
        builder.Services.AddSync();
        builder.Services.AddLeadConversion();
        builder.Services.AddPrivacyErasure();
        builder.Services.AddVirtualNumbers();
        builder.Services.AddSummaryRecalculation();
        builder.Services.AddHousekeeping();
        // Orchestration inputs/outputs and activity results in the core's JSON shape (camelCase, enums by name).
        builder.Services.Configure<WorkerOptions>(o => o.Serializer = new JsonObjectSerializer(CdpJson.Options));
        return builder;
    }

    public static IFunctionsWorkerApplicationBuilder UseAzureHostMiddleware(this IFunctionsWorkerApplicationBuilder builder)
    {
        builder.UseMiddleware<ApiProblemMiddleware>();
        builder.UseMiddleware<OutboxSignalMiddleware>();
        return builder;
    }
}
