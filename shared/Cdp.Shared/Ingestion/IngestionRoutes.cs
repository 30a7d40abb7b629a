using Cdp.Shared.Access;
using Microsoft.AspNetCore.Http;
using Cdp.Shared.Api;

namespace Cdp.Shared.Ingestion;

/// <summary>The channel webhooks (they authenticate by their own signatures) and the receipt query.</summary>
public static class IngestionRoutes
{
    public const string IngestPath = "ingest/{channel}";
    public const string IngestionPath = "ingestions/{ingestionId:guid}";
    public const string IngestionsPath = "ingestions";

    /// <summary>A source id longer than this was never stored (channels cap it far below).</summary>
    const int MaxSourceIdFilter = 200;

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

    /// <summary>
    /// GET /api/ingestions?channel=&amp;status=&amp;sourceId=&amp;from=&amp;to=&amp;limit=&amp;cursor=: receipts newest first
    /// (each as GET /api/ingestions/{id} answers it, with its sourceId), paged as <see cref="Paging"/> says.
    /// </summary>
    public static readonly ApiRoute ListIngestions = ApiRoute.Get(nameof(ListIngestions), IngestionsPath, Permissions.IngestionsRead, async call =>
    {
        var channel = call.Query("channel") is { Length: > 0 } c
            ? ChannelNames.All.Contains(c) ? c : throw ApiProblemException.Invalid("channel", $"One of {string.Join(", ", ChannelNames.All)}.")
            : null;
        var status = call.Query("status") is { Length: > 0 } s
            ? IngestionStatusQuery.Statuses.Contains(s) ? s : throw ApiProblemException.Invalid("status", $"One of {string.Join(", ", IngestionStatusQuery.Statuses)}.")
            : null;
        var sourceId = call.Query("sourceId") is { Length: > 0 } id
            ? id.Length <= MaxSourceIdFilter && !id.Contains('\0', StringComparison.Ordinal) ? id : throw ApiProblemException.Invalid("sourceId", $"At most {MaxSourceIdFilter} characters, no NUL.")
            : null;
        var after = Keyset.Decode(call.Query("cursor"));
        if (after is { } k && !Guid.TryParse(k.Id, out _)) throw Paging.BadCursor();
        var filter = new IngestionFilter(channel, status, sourceId, call.QueryTime("from"), call.QueryTime("to"));
        return Paging.Json(call, await call.Service<IngestionStatusQuery>().ListAsync(filter, call.Limit(), after, call.Aborted));
    });

    public static IEnumerable<ApiRoute> All => [IngestChannel, GetIngestion, ListIngestions];
}
