using Cdp.Shared.Search;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace Cdp.Functions.Http;

public sealed class SearchFunctions(CustomerSearch search)
{
    /// <summary>GET /api/search?q=&amp;type=&amp;limit=: the same reading of q and the same 400s as the local host.</summary>
    [Function("Search")]
    public async Task<IResult> Search(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "search")] HttpRequest request, FunctionContext context) =>
        HttpBodies.Json(await search.RunAsync(SearchQuery.Parse(
            request.Query["q"].FirstOrDefault(), request.Query["type"].FirstOrDefault(), request.Query["limit"].FirstOrDefault()),
            context.CancellationToken));
}
