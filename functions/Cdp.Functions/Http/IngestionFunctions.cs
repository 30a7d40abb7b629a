using Cdp.Shared.Api;
using Cdp.Shared.Ingestion;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace Cdp.Functions.Http;

/// <summary>Channel webhooks (they authenticate by their own signatures, hence Anonymous) and the receipt query.</summary>
public sealed class IngestionFunctions(ChannelWebhook webhook, IngestionStatusQuery query)
{
    /// <summary>WeCom's callback URL is https://&lt;app&gt;.azurewebsites.net/api/ingest/wecom; GET is its URL verification.</summary>
    [Function("IngestChannel")]
    public async Task<IResult> Ingest(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", "post", Route = "ingest/{channel}")] HttpRequest request, string channel,
        FunctionContext context)
    {
        var response = await webhook.HandleHttpAsync(channel, request.Method, request.ContentType,
            name => request.Query[name].FirstOrDefault(), name => request.Headers[name].FirstOrDefault(), request.Body, request.ContentLength,
            context.CancellationToken);
        switch (response)
        {
            case Accepted accepted:
                return HttpBodies.Json(accepted, StatusCodes.Status202Accepted);
            case PlainText text:
                if (text.IngestionId is { } id) request.HttpContext.Response.Headers[HttpRules.IngestionIdHeader] = id.ToString();
                return Results.Text(text.Text, "text/plain; charset=utf-8");
            default:
                throw new InvalidOperationException($"Unknown response {response.GetType().Name}");
        }
    }

    [Function("GetIngestion")]
    public async Task<IResult> Get(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "ingestions/{ingestionId:guid}")] HttpRequest request, Guid ingestionId,
        FunctionContext context) =>
        await query.GetAsync(ingestionId, context.CancellationToken) is { } status
            ? HttpBodies.Json(status)
            : throw new ApiProblemException(ApiProblem.NotFound($"No ingestion {ingestionId}."));
}
