using Cdp.Shared.Access;
using Cdp.Shared.Api;
using Cdp.Shared.Conversion;
using Cdp.Shared.Customers;

namespace Cdp.Orchestrations.Conversion;

public static class ConversionRoutes
{
    public const string ConvertPath = "leads/{leadId:guid}/convert";

    /// <summary>200 with the ids when the conversion finished within the wait, else 202 with the check-status links.</summary>
    public static readonly ApiRoute ConvertLead = ApiRoute.Post(nameof(ConvertLead), ConvertPath, Permissions.LeadsConvert, async call =>
    {
        var leadId = call.RouteId("leadId");
        await call.EnsureVisibleAsync(CustomerRef.LeadKind, leadId);
        var request = ConversionRules.Parse(leadId, await call.BodyAsync(RequestLeadConversion.MaxBodyBytes));
        // A salesperson may pick among ambiguous accounts only one they can see: else converting would hand them another's customer.
        if (request.AccountId is { } accountId) await call.EnsureVisibleAsync(CustomerRef.AccountKind, accountId);
        return await call.Service<RequestLeadConversion>().RunAsync(request, call.Actor, call.Caller.StaffUserId, call.Aborted) switch
        {
            ConversionAnswer.Done done => ApiResults.Json(done.Ids),
            ConversionAnswer.Running running => CheckStatus.Accepted(call, running.InstanceId),
            var other => throw new InvalidOperationException($"Unknown conversion answer {other}."),
        };
    });

    public static IEnumerable<ApiRoute> All => [ConvertLead];
}
