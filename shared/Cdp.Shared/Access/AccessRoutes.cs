using System.Net;
using System.Security.Cryptography;
using Cdp.Shared.Api;
using Cdp.Shared.Channels.WeCom;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Cdp.Shared.Access;

public sealed record StaffBody(IReadOnlyList<string>? Roles, string? Mobile, bool? Active, string? Department = null);
public sealed record ApiKeyBody(string? Name, IReadOnlyList<string>? Permissions, DateTimeOffset? ExpiresAt, string? Kind, IReadOnlyList<string>? AllowedOrigins);
public sealed record Me(string UserId, string? Name, IReadOnlyList<string> Roles, IReadOnlyList<string> Permissions, string? CsrfToken);

/// <summary>Sign-in (WeCom OAuth2 inside WeCom, the web-login QR outside), staff roles, API keys and the audit trail.</summary>
public static class AccessRoutes
{
    public const string LoginPath = "auth/wecom/login";
    public const string CallbackPath = "auth/wecom/callback";
    public const string MePath = "auth/me";
    public const string LogoutPath = "auth/logout";
    public const string KeySessionPath = "auth/key";
    public const string StaffListPath = "admin/staff";
    public const string StaffPath = "admin/staff/{userId}";
    public const string ApiKeysPath = "admin/api-keys";
    public const string ApiKeyPath = "admin/api-keys/{keyId}";
    public const string AuditPath = "audit";

    /// <summary>Carries the OAuth state and where to go afterwards between the login redirect and the callback.</summary>
    const string LoginCookie = "cdp_login";

    /// <summary>
    /// 302 to WeCom: the OAuth2 page when the browser is WeCom's own (silent, snsapi_base), the login QR otherwise.
    /// The state is random and also kept in a short cookie, so a callback not started here is refused.
    /// </summary>
    public static readonly ApiRoute WeComLogin = ApiRoute.Get(nameof(WeComLogin), LoginPath, ApiRoute.Public, call =>
    {
        var wecom = call.Service<IOptions<WeComOptions>>().Value;
        var returnUrl = LocalPath(call.Query("returnUrl"));
        var state = RandomNumberGenerator.GetString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 32);
        var callback = Uri.EscapeDataString($"{call.BaseUrl}/api/{CallbackPath}");
        var insideWeCom = call.Header("User-Agent")?.Contains("wxwork", StringComparison.OrdinalIgnoreCase) == true;
        var target = insideWeCom
            ? $"https://open.weixin.qq.com/connect/oauth2/authorize?appid={Uri.EscapeDataString(wecom.CorpId)}&redirect_uri={callback}&response_type=code&scope=snsapi_base&state={state}&agentid={Uri.EscapeDataString(wecom.AgentId ?? "")}#wechat_redirect"
            : $"https://login.work.weixin.qq.com/wwlogin/sso/login?login_type=CorpApp&appid={Uri.EscapeDataString(wecom.CorpId)}&agentid={Uri.EscapeDataString(wecom.AgentId ?? "")}&redirect_uri={callback}&state={state}";
        call.Http.Response.Cookies.Append(LoginCookie, state + "|" + returnUrl, new CookieOptions
        {
            HttpOnly = true, Secure = SecureCookies(call), SameSite = SameSiteMode.Lax, Path = "/api/auth", MaxAge = TimeSpan.FromMinutes(10),
        });
        return Task.FromResult(Results.Redirect(target));
    });

    /// <summary>WeCom returns here with a single-use code; it is exchanged server-side for the member's userid.</summary>
    public static readonly ApiRoute WeComCallback = ApiRoute.Get(nameof(WeComCallback), CallbackPath, ApiRoute.Public, async call =>
    {
        var expected = call.Request.Cookies[LoginCookie]?.Split('|', 2);
        if (expected is not [var state, var returnUrl] || call.Query("state") != state)
            throw new ApiProblemException(ApiProblem.Unauthorized("This sign-in was not started here, or took too long; start again."));
        var code = call.Query("code") is { Length: > 0 and <= 512 } c ? c : throw new ApiProblemException(ApiProblem.Unauthorized("WeCom sent no code."));
        var userId = await call.Service<WeComApiClient>().GetStaffUserIdAsync(code, call.Aborted)
            ?? throw new ApiProblemException(ApiProblem.Unauthorized("WeCom did not confirm a member of this company (the code is invalid, used, or expired)."));
        var member = await call.Service<StaffDirectory>().SeenAsync(userId, null, null, call.Aborted);
        if (!member.Active) throw new ApiProblemException(ApiProblem.Forbidden("This staff account is deactivated."));

        var sessions = call.Service<SessionTokens>();
        var (token, session) = sessions.Issue(Authenticate.StaffPrefix + member.UserId);
        sessions.SetCookies(call.Http.Response, token, session, SecureCookies(call));
        call.Http.Response.Cookies.Delete(LoginCookie, new CookieOptions { Path = "/api/auth" });
        await call.Service<AuditLog>().WriteAsync((call.Actor with { Actor = session.Subject }).Did("auth.signin", "staff", member.UserId), call.Aborted);
        return Results.Redirect(returnUrl);
    });

    public static readonly ApiRoute GetMe = ApiRoute.Get(nameof(GetMe), MePath, ApiRoute.Public, async call =>
    {
        var caller = call.Caller;
        if (!caller.IsAuthenticated) throw new ApiProblemException(ApiProblem.Unauthorized("Not signed in."));
        var member = caller.StaffUserId is { } id ? await call.Service<StaffDirectory>().GetAsync(id, call.Aborted) : null;
        return ApiResults.Json(new Me(caller.StaffUserId ?? caller.Actor, member?.Name, member?.Roles ?? [], [.. caller.Permissions.Order()], caller.CsrfToken));
    });

    public static readonly ApiRoute Logout = ApiRoute.Post(nameof(Logout), LogoutPath, ApiRoute.Public, call =>
    {
        SessionTokens.ClearCookies(call.Http.Response);
        return Task.FromResult(Results.NoContent());
    });

    /// <summary>An admin key (API key or the bootstrap key) becomes a console session, for places without WeCom.</summary>
    public static readonly ApiRoute KeySession = ApiRoute.Post(nameof(KeySession), KeySessionPath, Permissions.Admin, async call =>
    {
        if (call.Caller.Kind is not (CallerKind.ApiKey or CallerKind.Bootstrap))
            throw new ApiProblemException(ApiProblem.Forbidden("Send the admin API key as 'Authorization: Bearer <key>'."));
        var sessions = call.Service<SessionTokens>();
        var (token, session) = sessions.Issue(call.Caller.Actor);
        sessions.SetCookies(call.Http.Response, token, session, SecureCookies(call));
        await call.Service<AuditLog>().WriteAsync(call.Actor.Did("auth.key-session"), call.Aborted);
        return ApiResults.Json(new { csrfToken = session.Csrf, expiresAt = session.ExpiresAt });
    });

    public static readonly ApiRoute ListStaff = ApiRoute.Get(nameof(ListStaff), StaffListPath, Permissions.Admin, async call =>
        ApiResults.Json(await call.Service<StaffDirectory>().ListAsync(call.Aborted)));

    public static readonly ApiRoute GetStaff = ApiRoute.Get(nameof(GetStaff), StaffPath, Permissions.Admin, async call =>
    {
        var userId = call.Route("userId");
        return ApiResults.Json(await call.Service<StaffDirectory>().GetAsync(userId, call.Aborted)
            ?? throw new ApiProblemException(ApiProblem.NotFound($"No staff member {userId}.")));
    });

    /// <summary>Grants roles (replacing the member's set), sets the member's own mobile or deactivates them; audited in the same transaction.</summary>
    public static readonly ApiRoute PutStaff = ApiRoute.Put(nameof(PutStaff), StaffPath, Permissions.Admin, async call =>
    {
        var userId = call.Route("userId");
        var body = await call.JsonAsync<StaffBody>();
        var roles = body.Roles ?? throw ApiProblemException.Invalid("roles", "Required: the member's roles (an empty list removes them all).");
        if (roles.FirstOrDefault(r => !Roles.IsKnown(r)) is { } unknown) throw ApiProblemException.Invalid("roles", $"Unknown role '{unknown}'; roles are {string.Join(", ", Roles.Grants.Keys)}.");
        if (userId.Length > 64) throw ApiProblemException.Invalid("userId", "At most 64 characters.");
        if (body.Department is { Length: > 100 }) throw ApiProblemException.Invalid("department", "At most 100 characters.");
        await using var conn = await call.Service<NpgsqlDataSource>().OpenConnectionAsync(call.Aborted);
        await using var tx = await conn.BeginTransactionAsync(call.Aborted);
        var member = await call.Service<StaffDirectory>().SetAsync(conn, tx, userId, roles.Distinct().ToList(), body.Mobile, body.Active, body.Department);
        await AuditLog.WriteAsync(conn, tx, call.Actor.Did("staff.set", "staff", userId,
            new { roles = member.Roles, mobileChanged = body.Mobile is not null, active = member.Active, member.Department }));
        await tx.CommitAsync(call.Aborted);
        return ApiResults.Json(member);
    });

    public static readonly ApiRoute ListApiKeys = ApiRoute.Get(nameof(ListApiKeys), ApiKeysPath, Permissions.Admin, async call =>
        ApiResults.Json(await call.Service<ApiKeys>().ListAsync(call.Aborted)));

    /// <summary>201 with the key, shown this once; only its hash is kept.</summary>
    public static readonly ApiRoute CreateApiKey = ApiRoute.Post(nameof(CreateApiKey), ApiKeysPath, Permissions.Admin, async call =>
    {
        var body = await call.JsonAsync<ApiKeyBody>();
        var name = body.Name?.Trim() is { Length: > 0 and <= 100 } n ? n : throw ApiProblemException.Invalid("name", "Required, at most 100 characters.");
        var kind = body.Kind ?? ApiKeys.SecretKind;
        if (kind is not (ApiKeys.SecretKind or ApiKeys.PublishableKind)) throw ApiProblemException.Invalid("kind", "Must be 'secret' or 'publishable'.");
        var permissions = body.Permissions is { Count: > 0 } p ? p.Distinct().ToList() : throw ApiProblemException.Invalid("permissions", "Name at least one permission.");
        if (permissions.FirstOrDefault(x => !Permissions.IsKnown(x)) is { } unknown) throw ApiProblemException.Invalid("permissions", $"Unknown permission '{unknown}'.");
        if (kind == ApiKeys.PublishableKind && permissions.Any(x => x != Permissions.EventsWrite))
            throw ApiProblemException.Invalid("permissions", "A publishable key lives in web pages: it may only hold events:write.");
        var origins = (body.AllowedOrigins ?? []).Select(o => o.TrimEnd('/')).Distinct().ToList();
        if (origins.FirstOrDefault(o => !BrowserOrigins.IsOrigin(o)) is { } bad)
            throw ApiProblemException.Invalid("allowedOrigins", $"'{bad}' is not an origin (scheme://host[:port]).");
        if (kind == ApiKeys.PublishableKind && origins.Count == 0) throw ApiProblemException.Invalid("allowedOrigins", "A publishable key needs the website origins that may use it.");
        if (body.ExpiresAt is { } expires && expires <= DateTimeOffset.UtcNow) throw ApiProblemException.Invalid("expiresAt", "Must be in the future.");

        await using var conn = await call.Service<NpgsqlDataSource>().OpenConnectionAsync(call.Aborted);
        await using var tx = await conn.BeginTransactionAsync(call.Aborted);
        var created = await call.Service<ApiKeys>().CreateAsync(conn, tx, name, kind, permissions, origins, body.ExpiresAt, call.Caller.Actor);
        await AuditLog.WriteAsync(conn, tx, call.Actor.Did("apikey.create", "api_key", created.Info.KeyId, new { kind, permissions, origins }));
        await tx.CommitAsync(call.Aborted);
        call.Service<BrowserOrigins>().Forget();   // its origins work from this process at once (others look again within a second)
        return ApiResults.At(StatusCodes.Status201Created, $"/api/{ApiKeysPath}/{created.Info.KeyId}", created);
    });

    public static readonly ApiRoute RevokeApiKey = ApiRoute.Delete(nameof(RevokeApiKey), ApiKeyPath, Permissions.Admin, async call =>
    {
        var keyId = call.Route("keyId");
        await using var conn = await call.Service<NpgsqlDataSource>().OpenConnectionAsync(call.Aborted);
        await using var tx = await conn.BeginTransactionAsync(call.Aborted);
        if (!await call.Service<ApiKeys>().RevokeAsync(conn, tx, keyId))
            throw new ApiProblemException(ApiProblem.NotFound($"No live API key {keyId}."));
        await AuditLog.WriteAsync(conn, tx, call.Actor.Did("apikey.revoke", "api_key", keyId));
        await tx.CommitAsync(call.Aborted);
        call.Service<BrowserOrigins>().Forget();   // other processes stop allowing its origins within Auth:PublishableOriginsCacheTtl
        return Results.NoContent();
    });

    /// <summary>
    /// GET /api/audit?actor=&amp;action=&amp;entityId=&amp;from=&amp;to=&amp;limit=&amp;cursor= (newest first, paged as
    /// <see cref="Paging"/> says).
    /// </summary>
    public static readonly ApiRoute ListAudit = ApiRoute.Get(nameof(ListAudit), AuditPath, Permissions.AuditRead, async call =>
    {
        var after = Keyset.Decode(call.Query("cursor")) is { } k
            ? long.TryParse(k.Id, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id) ? id : throw Paging.BadCursor()
            : (long?)null;
        return Paging.Json(call, await call.Service<AuditLog>().ListAsync(
            new AuditLog.Query(call.Query("actor"), call.Query("action"), call.Query("entityId"), call.QueryTime("from"), call.QueryTime("to"), call.Limit(), after),
            call.Aborted));
    });

    public static IEnumerable<ApiRoute> All =>
        [WeComLogin, WeComCallback, GetMe, Logout, KeySession, ListStaff, GetStaff, PutStaff, ListApiKeys, CreateApiKey, RevokeApiKey, ListAudit];

    /// <summary>Only a path on this site: an absolute or protocol-relative returnUrl would make sign-in an open redirect.</summary>
    static string LocalPath(string? url) =>
        url is { Length: > 0 and <= 512 } && url.StartsWith('/') && !url.StartsWith("//", StringComparison.Ordinal) && !url.StartsWith("/\\", StringComparison.Ordinal)
            && !url.Contains('|') ? url : "/";

    /// <summary>Secure cookies everywhere but plain http on loopback (a developer's machine).</summary>
    static bool SecureCookies(ApiCall call) =>
        call.Service<IOptions<AccessOptions>>().Value.SecureCookies
        && !(call.Request.Scheme == "http" && (call.Request.Host.Host is "localhost" || IPAddress.TryParse(call.Request.Host.Host, out var ip) && IPAddress.IsLoopback(ip)));

}
