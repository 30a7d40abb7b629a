using Cdp.Shared.Api;
using Cdp.Shared.Customers;

namespace Cdp.Functions.Local;

/// <summary>The customer views of API.md: account details, account and contact 360, lead.</summary>
public static class CustomerEndpoints
{
    public static void MapCustomers(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/accounts/{accountId:guid}", async (Guid accountId, CustomerViews views, CancellationToken ct) =>
            Results.Ok(await views.AccountAsync(accountId, ct) ?? throw NotFound("account", accountId)));

        app.MapGet("/api/accounts/{accountId:guid}/360", async (Guid accountId, CustomerViews views) =>
            Json(await views.Account360Async(accountId) ?? throw NotFound("account", accountId)));

        app.MapGet("/api/contacts/{contactId:guid}/360", async (Guid contactId, CustomerViews views) =>
            Json(await views.Contact360Async(contactId) ?? throw NotFound("contact", contactId)));

        app.MapGet("/api/leads/{leadId:guid}", async (Guid leadId, CustomerViews views) =>
            Json(await views.LeadAsync(leadId) ?? throw NotFound("lead", leadId)));
    }

    static IResult Json(CachedView view) => Results.Text(view.ToResponse(), "application/json", System.Text.Encoding.UTF8);

    static ApiProblemException NotFound(string kind, Guid id) => new(ApiProblem.NotFound($"No {kind} {id}."));
}
