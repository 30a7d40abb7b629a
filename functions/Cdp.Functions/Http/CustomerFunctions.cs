using Cdp.Shared.Customers;
using Cdp.Shared.Search;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace Cdp.Functions.Http;

public sealed class CustomerFunctions(AzureApi api)
{
    [Function(nameof(CustomerRoutes.GetAccount))]
    public Task<IResult> GetAccount(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = CustomerRoutes.AccountPath)] HttpRequest request, string accountId) =>
        api.RunAsync(CustomerRoutes.GetAccount, request, ("accountId", accountId));

    [Function(nameof(CustomerRoutes.GetAccount360))]
    public Task<IResult> GetAccount360(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = CustomerRoutes.Account360Path)] HttpRequest request, string accountId) =>
        api.RunAsync(CustomerRoutes.GetAccount360, request, ("accountId", accountId));

    [Function(nameof(CustomerRoutes.GetContact360))]
    public Task<IResult> GetContact360(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = CustomerRoutes.Contact360Path)] HttpRequest request, string contactId) =>
        api.RunAsync(CustomerRoutes.GetContact360, request, ("contactId", contactId));

    [Function(nameof(CustomerRoutes.GetContactByExternalUser))]
    public Task<IResult> GetContactByExternalUser(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = CustomerRoutes.ContactByExternalPath)] HttpRequest request, string externalUserId) =>
        api.RunAsync(CustomerRoutes.GetContactByExternalUser, request, ("externalUserId", externalUserId));

    [Function(nameof(CustomerRoutes.GetLead))]
    public Task<IResult> GetLead(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = CustomerRoutes.LeadPath)] HttpRequest request, string leadId) =>
        api.RunAsync(CustomerRoutes.GetLead, request, ("leadId", leadId));

    [Function(nameof(CustomerRoutes.RevealPii))]
    public Task<IResult> RevealPii(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = CustomerRoutes.RevealPath)] HttpRequest request) =>
        api.RunAsync(CustomerRoutes.RevealPii, request);

    [Function(nameof(SearchRoutes.Search))]
    public Task<IResult> Search(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = SearchRoutes.SearchPath)] HttpRequest request) =>
        api.RunAsync(SearchRoutes.Search, request);
}
