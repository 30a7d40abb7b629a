using Cdp.Shared.Access;
using Microsoft.AspNetCore.Http;
using Cdp.Shared.Api;

namespace Cdp.Shared.Search;

public static class SearchRoutes
{
    public const string SearchPath = "search";

    /// <summary>GET /api/search?q=&amp;type=&amp;limit=; limit is read as text so "abc" gets the same clear 400 as "99".</summary>
    public static readonly ApiRoute Search = ApiRoute.Get(nameof(Search), SearchPath, Permissions.CustomersRead, async call =>
        ApiResults.Json(await call.Service<CustomerSearch>().RunAsync(
            SearchQuery.Parse(call.Query("q"), call.Query("type"), call.Query("limit")), ScopeViewer.Of(call.Caller), call.Aborted)));

    public static IEnumerable<ApiRoute> All => [Search];
}
