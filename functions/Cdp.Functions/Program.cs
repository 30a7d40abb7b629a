using Azure.Core.Serialization;
using Cdp.Functions.Durable;
using Cdp.Functions.Http;
using Cdp.Functions.Kafka;
using Cdp.Functions.Outbox;
using Cdp.Orchestrations;
using Cdp.Orchestrations.Conversion;
using Cdp.Orchestrations.Summaries;
using Cdp.Orchestrations.Sync;
using Cdp.Shared;
using Cdp.Shared.Messaging;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

var builder = FunctionsApplication.CreateBuilder(args);
builder.ConfigureFunctionsWebApplication();
// Kafka triggers consume here; topic_message is only the outbox, relayed to Event Hubs (never read by local consumers).
builder.Configuration.AddInMemoryCollection([new("Topics:ConsumersEnabled", "false")]);
builder.AddCdpPlatform();
builder.Services.AddBrokerDelivery();
builder.Services.AddOutboxRelay();
builder.Services.AddSingleton<IOutboxSink, KafkaOutboxSink>();
builder.Services.AddDurableOrchestrationClient();   // Durable Functions plays the local engine's part
builder.Services.AddSync();
builder.Services.AddLeadConversion();
builder.Services.AddSummaryRecalculation();
builder.Services.AddHousekeeping();
// Orchestration inputs/outputs and activity results in the core's JSON shape (camelCase, enums by name).
builder.Services.Configure<WorkerOptions>(o => o.Serializer = new JsonObjectSerializer(CdpJson.Options));
builder.UseMiddleware<ApiProblemMiddleware>();
builder.UseMiddleware<OutboxSignalMiddleware>();
builder.Build().Run();
