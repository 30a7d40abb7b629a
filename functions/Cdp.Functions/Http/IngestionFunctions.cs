using Cdp.Shared.Events;
using Cdp.Shared.Ingestion;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace Cdp.Functions.Http;

/// <summary>Channel webhooks (they authenticate by their own signatures, hence Anonymous), receipts and behaviour events.</summary>
public sealed class IngestionFunctions(AzureApi api)
{
    /// <summary>WeCom's callback URL is https://&lt;app&gt;.azurewebsites.net/api/ingest/wecom; GET is its URL verification.</summary>
    [Function(nameof(IngestionRoutes.IngestChannel))]
    public Task<IResult> IngestChannel(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", "post", Route = IngestionRoutes.IngestPath)] HttpRequest request, string channel) =>
        api.RunAsync(IngestionRoutes.IngestChannel, request, ("channel", channel));

    [Function(nameof(IngestionRoutes.GetIngestion))]
    public Task<IResult> GetIngestion(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = IngestionRoutes.IngestionPath)] HttpRequest request, string ingestionId) =>
        api.RunAsync(IngestionRoutes.GetIngestion, request, ("ingestionId", ingestionId));

    [Function(nameof(IngestionRoutes.ListIngestions))]
    public Task<IResult> ListIngestions(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = IngestionRoutes.IngestionsPath)] HttpRequest request) =>
        api.RunAsync(IngestionRoutes.ListIngestions, request);

    [Function(nameof(EventRoutes.PostEvents))]
    public Task<IResult> PostEvents(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = EventRoutes.EventsPath)] HttpRequest request) =>
        api.RunAsync(EventRoutes.PostEvents, request);
}
