using Cdp.Shared.Api;
using Cdp.Shared.Events;

namespace Cdp.Functions.Local;

public static class EventEndpoints
{
    public static void MapEvents(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/events", async (HttpRequest request, AcceptEvents accept, CancellationToken ct) =>
        {
            if (!IsJson(request.ContentType)) throw new ApiProblemException(ApiProblem.UnsupportedMediaType("application/json"));
            var body = await LimitedBody.ReadAsync(request.Body, request.ContentLength, accept.Options.MaxBodyBytes, ct);
            var result = await accept.HandleAsync(body, ct);
            return Results.Json(new { accepted = result.Accepted, rejected = result.Rejected }, statusCode: 202);
        });
    }

    static bool IsJson(string? contentType) =>
        contentType is not null
        && contentType.Split(';')[0].Trim() is var media
        && (media.Equals("application/json", StringComparison.OrdinalIgnoreCase) || media.EndsWith("+json", StringComparison.OrdinalIgnoreCase));
}
