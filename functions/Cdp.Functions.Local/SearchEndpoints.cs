using Cdp.Shared.Search;

namespace Cdp.Functions.Local;

public static class SearchEndpoints
{
    public static void MapSearch(this IEndpointRouteBuilder app) =>
        // limit comes in as text so that "abc" gets the same clear 400 as "99".
        app.MapGet("/api/search", async (string? q, string? type, string? limit, CustomerSearch search, CancellationToken ct) =>
            Results.Ok(await search.RunAsync(SearchQuery.Parse(q, type, limit), ct)));
}
