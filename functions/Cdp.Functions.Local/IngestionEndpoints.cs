using Cdp.Shared.Api;
using Cdp.Shared.Ingestion;

namespace Cdp.Functions.Local;

public static class IngestionEndpoints
{
    public static void MapIngestion(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/ingest/{channel}", Ingest);
        app.MapGet("/api/ingest/{channel}", Ingest);   // WeCom's URL verification (echostr)
        app.MapGet("/api/ingestions/{ingestionId:guid}", async (Guid ingestionId, IngestionStatusQuery query, CancellationToken ct) =>
            await query.GetAsync(ingestionId, ct) is { } status
                ? Results.Ok(status)
                : throw new ApiProblemException(ApiProblem.NotFound($"No ingestion {ingestionId}.")));
    }

    static async Task<IResult> Ingest(string channel, HttpRequest request, ChannelWebhook webhook, CancellationToken ct)
    {
        var response = await webhook.HandleHttpAsync(channel, request.Method, request.ContentType,
            name => request.Query[name].FirstOrDefault(), name => request.Headers[name].FirstOrDefault(), request.Body, request.ContentLength, ct);
        switch (response)
        {
            case Accepted accepted:
                return Results.Json(accepted, statusCode: 202);
            case PlainText text:
                if (text.IngestionId is { } id) request.HttpContext.Response.Headers[HttpRules.IngestionIdHeader] = id.ToString();
                return Results.Text(text.Text, "text/plain; charset=utf-8");
            default:
                throw new InvalidOperationException($"Unknown response {response.GetType().Name}");
        }
    }
}
