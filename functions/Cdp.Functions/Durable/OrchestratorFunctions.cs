using Cdp.Orchestrations;
using Cdp.Orchestrations.Conversion;
using Cdp.Orchestrations.Privacy;
using Cdp.Orchestrations.Summaries;
using Cdp.Orchestrations.Sync;
using Cdp.Orchestrations.VirtualNumbers;
using Cdp.Shared.Conversion;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Microsoft.Extensions.DependencyInjection;

namespace Cdp.Functions.Durable;

/// <summary>
/// Every orchestrator of orchestrations/ as a function-style Durable orchestrator (no source generator): the function
/// is named after the class, as the core's nameof calls expect, and runs the core's orchestrator over the adapter.
/// </summary>
public sealed class OrchestratorFunctions(IServiceProvider services)
{
    [Function(nameof(SyncThenRetry))]
    public Task<SyncThenRetryOutput> RunSyncThenRetry([OrchestrationTrigger] TaskOrchestrationContext context) =>
        Run<SyncThenRetry, SyncThenRetryInput, SyncThenRetryOutput>(context);

    [Function(nameof(ConvertLeadOrchestrator))]
    public Task<ConversionResult> RunConvertLead([OrchestrationTrigger] TaskOrchestrationContext context) =>
        Run<ConvertLeadOrchestrator, ConvertLeadRequest, ConversionResult>(context);

    [Function(nameof(RecalculateAllSummariesOrchestrator))]
    public Task<RecalculateAllSummariesResult> RunRecalculateAllSummaries([OrchestrationTrigger] TaskOrchestrationContext context) =>
        Run<RecalculateAllSummariesOrchestrator, RecalculateAllSummaries, RecalculateAllSummariesResult>(context);

    [Function(nameof(EraseSubjectOrchestrator))]
    public Task<string> RunEraseSubject([OrchestrationTrigger] TaskOrchestrationContext context) =>
        Run<EraseSubjectOrchestrator, Guid, string>(context);

    [Function(nameof(BindVirtualNumberOrchestrator))]
    public Task<BindVirtualNumberOutput> RunBindVirtualNumber([OrchestrationTrigger] TaskOrchestrationContext context) =>
        Run<BindVirtualNumberOrchestrator, BindVirtualNumberInput, BindVirtualNumberOutput>(context);

    // Qualified: Microsoft.DurableTask also declares an Orchestrator<TInput, TOutput> (src/Abstractions/Mediator/Orchestrator.cs).
    Task<TOut> Run<TOrchestrator, TIn, TOut>(TaskOrchestrationContext context) where TOrchestrator : Cdp.Orchestrations.Orchestrator<TIn, TOut> =>
        services.GetRequiredService<TOrchestrator>().RunAsync(new DurableOrchestrationContext(context), context.GetInput<TIn>()!);
}
