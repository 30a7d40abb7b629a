using Cdp.Orchestrations;
using Cdp.Orchestrations.Conversion;
using Cdp.Shared.Api;
using Cdp.Shared.Conversion;
using Microsoft.Extensions.Options;

namespace Cdp.Functions.Local;

public static class ConversionEndpoints
{
    const int MaxBodyBytes = 64 * 1024;

    public sealed record Converted(Guid LeadId, Guid? ContactId, Guid? AccountId, Guid? OpportunityId);

    /// <summary>Durable Functions' check-status response.</summary>
    public sealed record CheckStatus(string Id, string StatusQueryGetUri, string SendEventPostUri, string TerminatePostUri);

    public static void MapConversion(this IEndpointRouteBuilder app) =>
        app.MapPost("/api/leads/{leadId:guid}/convert", Convert);

    static async Task<IResult> Convert(
        Guid leadId, HttpRequest http, LeadConversion conversion, IOrchestrationClient orchestrations,
        IOptions<ConversionOptions> options, CancellationToken ct)
    {
        var request = ConversionRules.Parse(leadId, await LimitedBody.ReadAsync(http.Body, http.ContentLength, MaxBodyBytes, ct));
        if (ConversionRules.Validate(request) is { Count: > 0 } errors)
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
                return Results.Ok(new Converted(result.LeadId, result.ContactId, result.AccountId, result.OpportunityId));
            case OrchestrationRuntimeStatus.Failed or OrchestrationRuntimeStatus.Terminated:
                // The transaction commits last, so a run that gave up changed nothing; a new request runs afresh.
                throw new ApiProblemException(ApiProblem.Unavailable(
                    $"The conversion did not complete ({status.FailureDetails?.ErrorMessage ?? status.RuntimeStatus.ToString()}); nothing was changed, retry."));
            default:
                var instance = $"{http.Scheme}://{http.Host}/runtime/webhooks/durabletask/instances/{Uri.EscapeDataString(id)}";
                return Results.Accepted(instance, new CheckStatus(id, instance, instance + "/raiseEvent/{eventName}", instance + "/terminate?reason={text}"));
        }
    }
}
