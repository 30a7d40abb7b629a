using Cdp.Shared.Api;
using Cdp.Shared.Events;

namespace Cdp.Functions.Local;

public static class EventEndpoints
{
    public static void MapEvents(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/events", async (HttpRequest request, AcceptEvents accept, CancellationToken ct) =>
        {
            if (!HttpRules.IsJson(request.ContentType)) throw new ApiProblemException(ApiProblem.UnsupportedMediaType("application/json"));
            var body = await LimitedBody.ReadAsync(request.Body, request.ContentLength, accept.Options.MaxBodyBytes, ct);
            var result = await accept.HandleAsync(body, ct);
            return Results.Json(result, statusCode: 202);
        });
    }
}
