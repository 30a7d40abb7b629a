using Cdp.Orchestrations;
using Cdp.Orchestrations.Conversion;
using Cdp.Orchestrations.Privacy;
using Cdp.Orchestrations.Summaries;
using Cdp.Orchestrations.Sync;
using Cdp.Orchestrations.VirtualNumbers;
using Cdp.Shared.Conversion;
using Cdp.Shared.Summaries;
using Cdp.Shared.Sync;
using Cdp.Shared.VirtualNumbers;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.DependencyInjection;

namespace Cdp.Functions.Durable;

/// <summary>
/// Every activity of orchestrations/ as a Durable activity function named after its class, resolved per invocation:
/// the worker activates this class from the invocation's scoped services, so <c>services</c> is that scope.
/// The cancellation token is the worker's binding of the invocation's token (no FunctionContext needed, so tests can
/// call these methods as the worker does).
/// </summary>
public sealed class ActivityFunctions(IServiceProvider services)
{
    [Function(nameof(PushSyncTask))]
    public Task<PushOutcome> RunPushSyncTask([ActivityTrigger] PushSyncTaskInput input, CancellationToken cancellationToken) =>
        Run<PushSyncTask, PushSyncTaskInput, PushOutcome>(input, cancellationToken);

    [Function(nameof(MarkSyncTaskFailed))]
    public Task<bool> RunMarkSyncTaskFailed([ActivityTrigger] MarkSyncTaskFailedInput input, CancellationToken cancellationToken) =>
        Run<MarkSyncTaskFailed, MarkSyncTaskFailedInput, bool>(input, cancellationToken);

    [Function(nameof(SendSyncAlert))]
    public Task<string> RunSendSyncAlert([ActivityTrigger] Guid syncTaskId, CancellationToken cancellationToken) =>
        Run<SendSyncAlert, Guid, string>(syncTaskId, cancellationToken);

    [Function(nameof(ConvertLeadActivity))]
    public Task<ConversionResult> RunConvertLead([ActivityTrigger] ConvertLeadCommand input, CancellationToken cancellationToken) =>
        Run<ConvertLeadActivity, ConvertLeadCommand, ConversionResult>(input, cancellationToken);

    [Function(nameof(QueueSummaryBatchActivity))]
    public Task<SummaryBatchResult> RunQueueSummaryBatch([ActivityTrigger] SummaryBatch input, CancellationToken cancellationToken) =>
        Run<QueueSummaryBatchActivity, SummaryBatch, SummaryBatchResult>(input, cancellationToken);

    [Function(nameof(EraseSubjectActivity))]
    public Task<string> RunEraseSubject([ActivityTrigger] Guid requestId, CancellationToken cancellationToken) =>
        Run<EraseSubjectActivity, Guid, string>(requestId, cancellationToken);

    [Function(nameof(MarkPrivacyRequestFailed))]
    public Task<bool> RunMarkPrivacyRequestFailed([ActivityTrigger] PrivacyRequestFailure input, CancellationToken cancellationToken) =>
        Run<MarkPrivacyRequestFailed, PrivacyRequestFailure, bool>(input, cancellationToken);

    [Function(nameof(AttemptVirtualNumberBinding))]
    public Task<BindingAttempt> RunAttemptVirtualNumberBinding([ActivityTrigger] BindAttemptInput input, CancellationToken cancellationToken) =>
        Run<AttemptVirtualNumberBinding, BindAttemptInput, BindingAttempt>(input, cancellationToken);

    [Function(nameof(GiveUpVirtualNumberBinding))]
    public Task<bool> RunGiveUpVirtualNumberBinding([ActivityTrigger] GiveUpBindingInput input, CancellationToken cancellationToken) =>
        Run<GiveUpVirtualNumberBinding, GiveUpBindingInput, bool>(input, cancellationToken);

    [Function(nameof(AlertVirtualNumberBinding))]
    public Task<bool> RunAlertVirtualNumberBinding([ActivityTrigger] Guid bindingId, CancellationToken cancellationToken) =>
        Run<AlertVirtualNumberBinding, Guid, bool>(bindingId, cancellationToken);

    [Function(nameof(UnbindVirtualNumber))]
    public Task<string> RunUnbindVirtualNumber([ActivityTrigger] Guid bindingId, CancellationToken cancellationToken) =>
        Run<UnbindVirtualNumber, Guid, string>(bindingId, cancellationToken);

    Task<TOut> Run<TActivity, TIn, TOut>(TIn input, CancellationToken cancellationToken) where TActivity : Activity<TIn, TOut> =>
        services.GetRequiredService<TActivity>().RunTracedAsync(input, cancellationToken);
}
