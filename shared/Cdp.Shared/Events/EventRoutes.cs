using Cdp.Shared.Access;
using Microsoft.AspNetCore.Http;
using Cdp.Shared.Api;

namespace Cdp.Shared.Events;

public static class EventRoutes
{
    public const string EventsPath = "events";

    public static readonly ApiRoute PostEvents = ApiRoute.Post(nameof(PostEvents), EventsPath, Permissions.EventsWrite, async call =>
    {
        var accept = call.Service<AcceptEvents>();
        if (!HttpRules.IsJson(call.Request.ContentType)) throw new ApiProblemException(ApiProblem.UnsupportedMediaType("application/json"));
        var body = await call.BodyAsync(accept.Options.MaxBodyBytes);
        return ApiResults.Json(await accept.HandleAsync(body, call.Aborted), StatusCodes.Status202Accepted);
    });

    public static IEnumerable<ApiRoute> All => [PostEvents];
}
