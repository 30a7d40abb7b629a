using Cdp.Shared.Access;
using Cdp.Shared.Api;
using Cdp.Shared.Conversion;
using Microsoft.Extensions.Options;

namespace Cdp.Orchestrations.Conversion;

/// <summary>The ids a finished conversion answers with (200).</summary>
public sealed record Converted(Guid LeadId, Guid? ContactId, Guid? AccountId, Guid? OpportunityId);

/// <summary>What <c>POST /api/leads/{id}/convert</c> answers: the ids, or the instance still running (202 with its check-status links).</summary>
public abstract record ConversionAnswer
{
    public sealed record Done(Converted Ids) : ConversionAnswer;

    public sealed record Running(string InstanceId) : ConversionAnswer;
}

/// <summary>
/// The convert request as both hosts serve it: validate, refuse a converted lead, start <see cref="ConvertLeadOrchestrator"/>
/// as the lead's singleton and wait <see cref="ConversionOptions.WaitTimeout"/>. Refusals leave as <see cref="ApiProblemException"/>.
/// The run carries <c>actor</c> to the transaction that audits it; a staff member who names no owner owns the conversion.
/// </summary>
public sealed class RequestLeadConversion(LeadConversion conversion, IOrchestrationClient orchestrations, IOptions<ConversionOptions> options, OpportunityStages stages)
{
    public const int MaxBodyBytes = 64 * 1024;

    /// <param name="parsed">The body as <see cref="ConversionRules.Parse"/> read it (the route reads it once, to check a chosen account's scope).</param>
    public async Task<ConversionAnswer> RunAsync(ConvertLeadRequest parsed, AuditActor actor, string? staffUserId, CancellationToken ct)
    {
        var leadId = parsed.LeadId;
        var request = parsed with { OwnerId = parsed.OwnerId ?? staffUserId, Actor = actor };
        if (ConversionRules.Validate(request, stages) is { Count: > 0 } errors)
            throw new ApiProblemException(ApiProblem.Unprocessable(errors));

        // A converted lead's instance has finished, and starting a finished id runs it afresh: answer before starting.
        var state = await conversion.GetStateAsync(leadId, ct)
            ?? throw new ApiProblemException(ApiProblem.NotFound($"No lead {leadId}."));
        if (state.IsConverted)
            throw new ApiProblemException(ConversionResult.AlreadyConverted(leadId, state.ContactId, state.AccountId, state.OpportunityId));

        var id = await orchestrations.StartAsync(nameof(ConvertLeadOrchestrator), request, ConvertLeadOrchestrator.InstanceId(leadId));
        var status = await orchestrations.WaitForCompletionAsync(id, options.Value.WaitTimeout);
        switch (status.RuntimeStatus)
        {
            case OrchestrationRuntimeStatus.Completed:
                var result = status.ReadOutputAs<ConversionResult>() ?? throw new InvalidOperationException($"Instance {id} completed without a result.");
                if (result.ToProblem() is { } problem) throw new ApiProblemException(problem);
                return new ConversionAnswer.Done(new Converted(result.LeadId, result.ContactId, result.AccountId, result.OpportunityId));
            case OrchestrationRuntimeStatus.Failed or OrchestrationRuntimeStatus.Terminated:
                // The transaction commits last, so a run that gave up changed nothing; a new request runs afresh.
                throw new ApiProblemException(ApiProblem.Unavailable(
                    $"The conversion did not complete ({status.FailureDetails?.ErrorMessage ?? status.RuntimeStatus.ToString()}); nothing was changed, retry."));
            default:
                return new ConversionAnswer.Running(id);
        }
    }
}
