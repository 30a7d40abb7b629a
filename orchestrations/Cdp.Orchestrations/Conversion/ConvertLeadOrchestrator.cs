using Cdp.Shared.Conversion;
using Microsoft.Extensions.DependencyInjection;

namespace Cdp.Orchestrations.Conversion;

/// <summary>
/// Lead conversion (seed 003, flow 2). Started as <see cref="InstanceId"/>, so one lead has at most one running
/// conversion however often it is asked for. The work is one activity (one transaction); its summary recalculations
/// and notification leave through the outbox in that transaction and are handled asynchronously.
/// </summary>
public sealed class ConvertLeadOrchestrator : Orchestrator<ConvertLeadRequest, ConversionResult>
{
    /// <summary>
    /// For failures the transaction could not absorb itself (connection lost, database restarting). Refusals
    /// (validation, ambiguous company, already converted) are results, so they are never retried.
    /// </summary>
    public static readonly RetryPolicy Retry = new(4, TimeSpan.FromMilliseconds(500), BackoffCoefficient: 2, MaxRetryInterval: TimeSpan.FromSeconds(5));

    public static string InstanceId(Guid leadId) => $"convert-lead-{leadId}";

    public override Task<ConversionResult> RunAsync(IOrchestrationContext context, ConvertLeadRequest input)
    {
        ArgumentNullException.ThrowIfNull(context);
        // The run's id is replay-stable, so a re-run of the activity recognises the run's own committed conversion.
        return context.CallActivityAsync<ConversionResult>(nameof(ConvertLeadActivity), new ConvertLeadCommand(input, context.NewGuid()), Retry);
    }
}

/// <summary>The conversion transaction. Idempotent: a lead this run already converted answers with the recorded ids.</summary>
public sealed class ConvertLeadActivity(LeadConversion conversion) : Activity<ConvertLeadCommand, ConversionResult>
{
    public override Task<ConversionResult> RunAsync(ConvertLeadCommand input, CancellationToken cancellationToken) =>
        conversion.ConvertAsync(input, cancellationToken);
}

public static class ConversionOrchestrationExtensions
{
    /// <summary>Lead conversion: its core (<see cref="ConversionExtensions.AddConversion"/>), the request both hosts serve, orchestrator and activity.</summary>
    public static IServiceCollection AddLeadConversion(this IServiceCollection services) =>
        services.AddConversion().AddSingleton<RequestLeadConversion>()
            .AddOrchestrator<ConvertLeadOrchestrator>().AddActivity<ConvertLeadActivity>();
}
