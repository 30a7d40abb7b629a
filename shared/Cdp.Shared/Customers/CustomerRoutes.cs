using Cdp.Shared.Access;
using Microsoft.AspNetCore.Http;
using Cdp.Shared.Api;

namespace Cdp.Shared.Customers;

/// <summary>The customer views of API.md: account details, account and contact 360, lead.</summary>
public static class CustomerRoutes
{
    public const string AccountPath = "accounts/{accountId:guid}";
    public const string Account360Path = "accounts/{accountId:guid}/360";
    public const string Contact360Path = "contacts/{contactId:guid}/360";
    public const string LeadPath = "leads/{leadId:guid}";

    public static readonly ApiRoute GetAccount = ApiRoute.Get(nameof(GetAccount), AccountPath, Permissions.CustomersRead, async call =>
    {
        var id = call.RouteId("accountId");
        await call.EnsureVisibleAsync(CustomerRef.AccountKind, id);
        return ApiResults.Json(await call.Service<CustomerViews>().AccountAsync(id, call.Aborted) ?? throw NotFound("account", id));
    });

    public static readonly ApiRoute GetAccount360 = ApiRoute.Get(nameof(GetAccount360), Account360Path, Permissions.CustomersRead, async call =>
    {
        var id = call.RouteId("accountId");
        await call.EnsureVisibleAsync(CustomerRef.AccountKind, id);
        return View(await call.Service<CustomerViews>().Account360Async(id) ?? throw NotFound("account", id));
    });

    public static readonly ApiRoute GetContact360 = ApiRoute.Get(nameof(GetContact360), Contact360Path, Permissions.CustomersRead, async call =>
    {
        var id = call.RouteId("contactId");
        await call.EnsureVisibleAsync(CustomerRef.ContactKind, id);
        return View(await call.Service<CustomerViews>().Contact360Async(id) ?? throw NotFound("contact", id));
    });

    public static readonly ApiRoute GetLead = ApiRoute.Get(nameof(GetLead), LeadPath, Permissions.CustomersRead, async call =>
    {
        var id = call.RouteId("leadId");
        await call.EnsureVisibleAsync(CustomerRef.LeadKind, id);
        return View(await call.Service<CustomerViews>().LeadAsync(id) ?? throw NotFound("lead", id));
    });

    public static IEnumerable<ApiRoute> All => [GetAccount, GetAccount360, GetContact360, GetLead];

    static IResult View(CachedView view) => ApiResults.RawJson(view.ToResponse());

    static ApiProblemException NotFound(string kind, Guid id) => new(ApiProblem.NotFound($"No {kind} {id}."));
}
