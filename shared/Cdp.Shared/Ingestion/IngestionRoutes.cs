using Cdp.Shared.Access;
using Microsoft.AspNetCore.Http;
using Cdp.Shared.Api;

namespace Cdp.Shared.Ingestion;

/// <summary>The channel webhooks (they authenticate by their own signatures) and the receipt query.</summary>
public static class IngestionRoutes
{
    public const string IngestPath = "ingest/{channel}";
    public const string IngestionPath = "ingestions/{ingestionId:guid}";

    /// <summary>GET is WeCom's URL verification (echostr); every channel POSTs its records.</summary>
    public static readonly ApiRoute IngestChannel = new(nameof(IngestChannel), ["GET", "POST"], IngestPath, ApiRoute.Public, async call =>
    {
        var request = call.Request;
        var response = await call.Service<ChannelWebhook>().HandleHttpAsync(call.Route("channel"), request.Method, request.ContentType,
            name => request.Query[name].FirstOrDefault(), name => request.Headers[name].FirstOrDefault(), request.Body, request.ContentLength,
            call.Aborted);
        switch (response)
        {
            case Accepted accepted:
                return ApiResults.Json(accepted, StatusCodes.Status202Accepted);
            case AcceptedJson json:
                return ApiResults.Json(json.Body, StatusCodes.Status202Accepted);
            case PlainText text:
                if (text.IngestionId is { } id) call.Http.Response.Headers[HttpRules.IngestionIdHeader] = id.ToString();
                return Results.Text(text.Text, "text/plain; charset=utf-8");
            default:
                throw new InvalidOperationException($"Unknown response {response.GetType().Name}");
        }
    });

    public static readonly ApiRoute GetIngestion = ApiRoute.Get(nameof(GetIngestion), IngestionPath, Permissions.IngestionsRead, async call =>
    {
        var id = call.RouteId("ingestionId");
        return ApiResults.Json(await call.Service<IngestionStatusQuery>().GetAsync(id, call.Aborted)
            ?? throw new ApiProblemException(ApiProblem.NotFound($"No ingestion {id}.")));
    });

    public static IEnumerable<ApiRoute> All => [IngestChannel, GetIngestion];
}
