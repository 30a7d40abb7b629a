using Cdp.Orchestrations;
using Cdp.Orchestrations.Conversion;
using Cdp.Orchestrations.Summaries;
using Cdp.Orchestrations.Sync;
using Cdp.Shared.Conversion;
using Cdp.Shared.Summaries;
using Cdp.Shared.Sync;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.DependencyInjection;

namespace Cdp.Functions.Durable;

/// <summary>Every activity of orchestrations/ as a Durable activity function named after its class, resolved per invocation.</summary>
public sealed class ActivityFunctions
{
    [Function(nameof(PushSyncTask))]
    public Task<PushOutcome> RunPushSyncTask([ActivityTrigger] PushSyncTaskInput input, FunctionContext context) =>
        Run<PushSyncTask, PushSyncTaskInput, PushOutcome>(input, context);

    [Function(nameof(MarkSyncTaskFailed))]
    public Task<bool> RunMarkSyncTaskFailed([ActivityTrigger] MarkSyncTaskFailedInput input, FunctionContext context) =>
        Run<MarkSyncTaskFailed, MarkSyncTaskFailedInput, bool>(input, context);

    [Function(nameof(SendSyncAlert))]
    public Task<string> RunSendSyncAlert([ActivityTrigger] Guid syncTaskId, FunctionContext context) =>
        Run<SendSyncAlert, Guid, string>(syncTaskId, context);

    [Function(nameof(ConvertLeadActivity))]
    public Task<ConversionResult> RunConvertLead([ActivityTrigger] ConvertLeadCommand input, FunctionContext context) =>
        Run<ConvertLeadActivity, ConvertLeadCommand, ConversionResult>(input, context);

    [Function(nameof(QueueSummaryBatchActivity))]
    public Task<SummaryBatchResult> RunQueueSummaryBatch([ActivityTrigger] SummaryBatch input, FunctionContext context) =>
        Run<QueueSummaryBatchActivity, SummaryBatch, SummaryBatchResult>(input, context);

    static Task<TOut> Run<TActivity, TIn, TOut>(TIn input, FunctionContext context) where TActivity : Activity<TIn, TOut> =>
        context.InstanceServices.GetRequiredService<TActivity>().RunAsync(input, context.CancellationToken);
}
