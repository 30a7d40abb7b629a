using Cdp.Shared.Api;
using Microsoft.AspNetCore.Http;

namespace Cdp.Orchestrations;

/// <summary>
/// Durable Functions' check-status body (the 202 a started orchestration answers with): where to poll, raise an event
/// and terminate. The links are the product's own <c>/api/orchestrations/{id}</c> routes on both hosts, never Durable's
/// management URLs (on Azure those carry the task hub's system key, which opens every instance).
/// </summary>
public sealed record CheckStatus(string Id, string StatusQueryGetUri, string SendEventPostUri, string TerminatePostUri)
{
    /// <summary>The links under <paramref name="baseUrl"/> ("http://host:port").</summary>
    public static CheckStatus For(string baseUrl, string instanceId)
    {
        var instance = $"{baseUrl}/api/orchestrations/{Uri.EscapeDataString(instanceId)}";
        return new(instanceId, instance, instance + "/raiseEvent/{eventName}", instance + "/terminate?reason={text}");
    }

    /// <summary>202 with this body and a Location to poll: what a route that started an orchestration answers.</summary>
    public static IResult Accepted(ApiCall call, string instanceId)
    {
        var status = For(call.BaseUrl, instanceId);
        return ApiResults.At(StatusCodes.Status202Accepted, status.StatusQueryGetUri, status);
    }
}
