using Cdp.Shared.Access;
using Microsoft.AspNetCore.Http;
using Cdp.Shared.Api;

namespace Cdp.Shared.Customers;

/// <summary>
/// The customer views of API.md (account details, account and contact 360, lead) and the reveal of a masked field.
/// A view is masked unless the caller holds pii:reveal, and every read of one is audited.
/// </summary>
public static class CustomerRoutes
{
    public const string AccountPath = "accounts/{accountId:guid}";
    public const string Account360Path = "accounts/{accountId:guid}/360";
    public const string Contact360Path = "contacts/{contactId:guid}/360";
    public const string LeadPath = "leads/{leadId:guid}";
    public const string RevealPath = "pii/reveal";
    public const string ContactByExternalPath = "contacts/by-external/{externalUserId}";

    /// <summary>The account and its summary: a company's data, nothing to mask; audited like the other views.</summary>
    public static readonly ApiRoute GetAccount = ApiRoute.Get(nameof(GetAccount), AccountPath, Permissions.CustomersRead, async call =>
    {
        var id = call.RouteId("accountId");
        await call.EnsureVisibleAsync(CustomerRef.AccountKind, id);
        var account = await call.Service<CustomerViews>().AccountAsync(id, call.Aborted) ?? throw NotFound("account", id);
        await call.AuditPiiReadAsync(CustomerRef.AccountKind, id.ToString(), new { masked = call.MasksPii() });
        return ApiResults.Json(account);
    });

    public static readonly ApiRoute GetAccount360 = ApiRoute.Get(nameof(GetAccount360), Account360Path, Permissions.CustomersRead, async call =>
    {
        var id = call.RouteId("accountId");
        await call.EnsureVisibleAsync(CustomerRef.AccountKind, id);
        return await View(call, CustomerRef.AccountKind, id,
            await call.Service<CustomerViews>().Account360Async(id, call.MasksPii()) ?? throw NotFound("account", id));
    });

    public static readonly ApiRoute GetContact360 = ApiRoute.Get(nameof(GetContact360), Contact360Path, Permissions.CustomersRead, async call =>
    {
        var id = call.RouteId("contactId");
        await call.EnsureVisibleAsync(CustomerRef.ContactKind, id);
        return await View(call, CustomerRef.ContactKind, id,
            await call.Service<CustomerViews>().Contact360Async(id, call.MasksPii()) ?? throw NotFound("contact", id));
    });

    public static readonly ApiRoute GetLead = ApiRoute.Get(nameof(GetLead), LeadPath, Permissions.CustomersRead, async call =>
    {
        var id = call.RouteId("leadId");
        await call.EnsureVisibleAsync(CustomerRef.LeadKind, id);
        return await View(call, CustomerRef.LeadKind, id,
            await call.Service<CustomerViews>().LeadAsync(id, call.MasksPii()) ?? throw NotFound("lead", id));
    });

    /// <summary>
    /// The sidebar's read: the contact 360 of a WeCom external contact, by the external_userid the page learnt from
    /// getCurExternalContact. That id is the browser's claim, so a signed-in staff member gets an answer only for a
    /// contact they follow in WeCom (a wecom_follow owner row); anyone else gets the 404 of an unknown contact. Machine
    /// callers (API keys) follow nobody and are unscoped: they read any contact, as by id.
    /// </summary>
    public static readonly ApiRoute GetContactByExternalUser = ApiRoute.Get(nameof(GetContactByExternalUser), ContactByExternalPath, Permissions.CustomersRead, async call =>
    {
        var externalUserId = call.Route("externalUserId");
        var id = externalUserId.Length <= 64
            ? await call.Service<CustomerViews>().ContactIdByExternalUserAsync(externalUserId, call.Caller.StaffUserId, call.Aborted)
            : null;
        if (id is not { } contactId) throw new ApiProblemException(ApiProblem.NotFound("No contact with this WeCom external userid."));
        await call.EnsureVisibleAsync(CustomerRef.ContactKind, contactId);
        return await View(call, CustomerRef.ContactKind, contactId,
            await call.Service<CustomerViews>().Contact360Async(contactId, call.MasksPii()) ?? throw NotFound("contact", contactId));
    });

    /// <summary>POST /api/pii/reveal {"entityType","entityId","field"}: 404 unknown record, 422 unknown type or field.</summary>
    public static readonly ApiRoute RevealPii = ApiRoute.Post(nameof(RevealPii), RevealPath, Permissions.PiiReveal, async call =>
    {
        var request = RevealPiiField.Check(await call.JsonAsync<RevealBody>());
        await call.EnsureVisibleAsync(request.EntityType, request.EntityId);
        return ApiResults.Json(await call.Service<RevealPiiField>().RunAsync(request, call.Actor, call.Aborted)
            ?? throw NotFound(request.EntityType, request.EntityId));
    });

    public static IEnumerable<ApiRoute> All => [GetAccount, GetAccount360, GetContact360, GetContactByExternalUser, GetLead, RevealPii];

    // A cached view is audited too: the row records who read, not where the bytes came from.
    static async Task<IResult> View(ApiCall call, string kind, Guid id, CachedView view)
    {
        await call.AuditPiiReadAsync(kind, id.ToString(), new { masked = view.Masked });
        return ApiResults.RawJson(view.ToResponse());
    }

    static ApiProblemException NotFound(string kind, Guid id) => new(ApiProblem.NotFound($"No {kind} {id}."));
}
