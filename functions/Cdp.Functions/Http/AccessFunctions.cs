using Cdp.Shared.Access;
using Cdp.Shared.Api;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace Cdp.Functions.Http;

/// <summary>Sign-in, staff roles, API keys and the audit trail (the core checks each caller: Anonymous at the Functions level).</summary>
public sealed class AccessFunctions(AzureApi api)
{
    [Function(nameof(AccessRoutes.WeComLogin))]
    public Task<IResult> WeComLogin(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = AccessRoutes.LoginPath)] HttpRequest request) =>
        api.RunAsync(AccessRoutes.WeComLogin, request);

    [Function(nameof(AccessRoutes.WeComCallback))]
    public Task<IResult> WeComCallback(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = AccessRoutes.CallbackPath)] HttpRequest request) =>
        api.RunAsync(AccessRoutes.WeComCallback, request);

    [Function(nameof(AccessRoutes.GetMe))]
    public Task<IResult> GetMe(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = AccessRoutes.MePath)] HttpRequest request) =>
        api.RunAsync(AccessRoutes.GetMe, request);

    [Function(nameof(AccessRoutes.Logout))]
    public Task<IResult> Logout(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = AccessRoutes.LogoutPath)] HttpRequest request) =>
        api.RunAsync(AccessRoutes.Logout, request);

    [Function(nameof(AccessRoutes.KeySession))]
    public Task<IResult> KeySession(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = AccessRoutes.KeySessionPath)] HttpRequest request) =>
        api.RunAsync(AccessRoutes.KeySession, request);

    [Function(nameof(AccessRoutes.ListStaff))]
    public Task<IResult> ListStaff(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = AccessRoutes.StaffListPath)] HttpRequest request) =>
        api.RunAsync(AccessRoutes.ListStaff, request);

    [Function(nameof(AccessRoutes.GetStaff))]
    public Task<IResult> GetStaff(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = AccessRoutes.StaffPath)] HttpRequest request, string userId) =>
        api.RunAsync(AccessRoutes.GetStaff, request, ("userId", userId));

    [Function(nameof(AccessRoutes.PutStaff))]
    public Task<IResult> PutStaff(
        [HttpTrigger(AuthorizationLevel.Anonymous, "put", Route = AccessRoutes.StaffPath)] HttpRequest request, string userId) =>
        api.RunAsync(AccessRoutes.PutStaff, request, ("userId", userId));

    [Function(nameof(AccessRoutes.ListApiKeys))]
    public Task<IResult> ListApiKeys(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = AccessRoutes.ApiKeysPath)] HttpRequest request) =>
        api.RunAsync(AccessRoutes.ListApiKeys, request);

    [Function(nameof(AccessRoutes.CreateApiKey))]
    public Task<IResult> CreateApiKey(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = AccessRoutes.ApiKeysPath)] HttpRequest request) =>
        api.RunAsync(AccessRoutes.CreateApiKey, request);

    [Function(nameof(AccessRoutes.RevokeApiKey))]
    public Task<IResult> RevokeApiKey(
        [HttpTrigger(AuthorizationLevel.Anonymous, "delete", Route = AccessRoutes.ApiKeyPath)] HttpRequest request, string keyId) =>
        api.RunAsync(AccessRoutes.RevokeApiKey, request, ("keyId", keyId));

    [Function(nameof(AccessRoutes.ListAudit))]
    public Task<IResult> ListAudit(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = AccessRoutes.AuditPath)] HttpRequest request) =>
        api.RunAsync(AccessRoutes.ListAudit, request);

    /// <summary>
    /// CORS preflights for every path (the platform's CORS setting is off, so they reach the app). The Functions host tries
    /// routes in registration order, each with its methods as a constraint: no other trigger takes OPTIONS, so this
    /// catch-all never shadows a route and no route shadows it.
    /// </summary>
    [Function(nameof(CorsRoutes.Preflight))]
    public Task<IResult> Preflight(
        [HttpTrigger(AuthorizationLevel.Anonymous, "options", Route = CorsRoutes.PreflightPath)] HttpRequest request) =>
        api.RunAsync(CorsRoutes.Preflight, request);
}
