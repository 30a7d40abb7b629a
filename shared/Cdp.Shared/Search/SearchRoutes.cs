using Cdp.Shared.Access;
using Microsoft.AspNetCore.Http;
using Cdp.Shared.Api;

namespace Cdp.Shared.Search;

public static class SearchRoutes
{
    public const string SearchPath = "search";

    /// <summary>
    /// GET /api/search?q=&amp;type=&amp;limit=; limit is read as text so "abc" gets the same clear 400 as "99". A phone
    /// or an address still finds its records for a masked caller; the answer echoes it masked. Audited with the kind of
    /// query and the number of results, never the query.
    /// </summary>
    public static readonly ApiRoute Search = ApiRoute.Get(nameof(Search), SearchPath, Permissions.CustomersRead, async call =>
    {
        var query = SearchQuery.Parse(call.Query("q"), call.Query("type"), call.Query("limit"));
        var result = await call.Service<CustomerSearch>().RunAsync(query, ScopeViewer.Of(call.Caller), call.Aborted);
        var masked = call.MasksPii();
        await call.AuditPiiReadAsync("search", null, new { term = query.Term.Kind, results = result.Matches.Count, masked });
        return ApiResults.Json(masked ? result with { Query = query.Term.Masked(query.Text) } : result);
    });

    public static IEnumerable<ApiRoute> All => [Search];
}
