using System.Text;
using Cdp.Shared.Api;
using Cdp.Shared.Customers;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace Cdp.Functions.Http;

/// <summary>The customer views: account details, account and contact 360, lead (the cache serves the view's JSON as it is).</summary>
public sealed class CustomerFunctions(CustomerViews views)
{
    [Function("GetAccount")]
    public async Task<IResult> GetAccount(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "accounts/{accountId:guid}")] HttpRequest request, Guid accountId,
        FunctionContext context) =>
        HttpBodies.Json(await views.AccountAsync(accountId, context.CancellationToken) ?? throw NotFound("account", accountId));

    [Function("GetAccount360")]
    public async Task<IResult> GetAccount360(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "accounts/{accountId:guid}/360")] HttpRequest request, Guid accountId) =>
        View(await views.Account360Async(accountId) ?? throw NotFound("account", accountId));

    [Function("GetContact360")]
    public async Task<IResult> GetContact360(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "contacts/{contactId:guid}/360")] HttpRequest request, Guid contactId) =>
        View(await views.Contact360Async(contactId) ?? throw NotFound("contact", contactId));

    [Function("GetLead")]
    public async Task<IResult> GetLead(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "leads/{leadId:guid}")] HttpRequest request, Guid leadId) =>
        View(await views.LeadAsync(leadId) ?? throw NotFound("lead", leadId));

    static IResult View(CachedView view) => Results.Text(view.ToResponse(), "application/json", Encoding.UTF8);

    static ApiProblemException NotFound(string kind, Guid id) => new(ApiProblem.NotFound($"No {kind} {id}."));
}
