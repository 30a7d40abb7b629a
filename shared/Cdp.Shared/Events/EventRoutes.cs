using Cdp.Shared.Access;
using Microsoft.AspNetCore.Http;
using Cdp.Shared.Api;

namespace Cdp.Shared.Events;

public static class EventRoutes
{
    public const string EventsPath = "events";

    /// <summary>
    /// A publishable key (the website SDK) is rate-limited first, before its body is read, and its events' entity ids
    /// count only with an identityToken; the answer's "untrusted" counts the events that lost them.
    /// </summary>
    public static readonly ApiRoute PostEvents = ApiRoute.Post(nameof(PostEvents), EventsPath, Permissions.EventsWrite, async call =>
    {
        await call.Service<LimitEventRate>().AdmitAsync(call.Caller, call.Http.Connection.RemoteIpAddress);
        var accept = call.Service<AcceptEvents>();
        if (!HttpRules.IsJson(call.Request.ContentType)) throw new ApiProblemException(ApiProblem.UnsupportedMediaType("application/json"));
        var body = await call.BodyAsync(accept.Options.MaxBodyBytes);
        var needIdentityToken = call.Caller.Kind == CallerKind.PublishableKey;
        return ApiResults.Json(await accept.HandleAsync(body, needIdentityToken, call.Aborted), StatusCodes.Status202Accepted);
    });

    public static IEnumerable<ApiRoute> All => [PostEvents];
}
