using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Web;
using Cdp.Shared.Access;
using Cdp.Tests.Support;
using Dapper;

namespace Cdp.Tests.Access;

/// <summary>
/// Staff sign in through WeCom (OAuth2 inside WeCom, the login QR outside); the code is exchanged server-side at the
/// WeCom stand-in's auth/getuserinfo; the session is an HttpOnly cookie whose changes need the CSRF token.
/// </summary>
public sealed class SignInTests(CdpApp app) : IClassFixture<CdpApp>
{
    const string WeComBrowser = "Mozilla/5.0 (iPhone) AppleWebKit/605.1.15 MicroMessenger/8.0 wxwork/4.1.22 MicroMessenger/7.0.1 Language/zh";

    [Fact]
    public async Task Inside_WeCom_sign_in_is_OAuth2_and_ends_on_the_page_it_started_from_with_a_session()
    {
        var userId = await GrantAsync("sales");
        using var browser = app.NewClient();
        browser.DefaultRequestHeaders.UserAgent.ParseAdd(WeComBrowser);

        using var login = await browser.GetAsync("/api/auth/wecom/login?returnUrl=%2Fsidebar%2F%3Fcontact%3D1");
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        var target = login.Headers.Location!;
        Assert.Equal("open.weixin.qq.com", target.Host);
        var query = HttpUtility.ParseQueryString(target.Query);
        Assert.Equal("snsapi_base", query["scope"]);
        Assert.Equal(WeComStandIn.DefaultCorpId, query["appid"]);
        Assert.EndsWith("/api/auth/wecom/callback", query["redirect_uri"], StringComparison.Ordinal);
        Assert.EndsWith("#wechat_redirect", target.ToString(), StringComparison.Ordinal);

        using var callback = await browser.GetAsync($"/api/auth/wecom/callback?code={app.WeCom.IssueSignInCode(userId)}&state={query["state"]}");
        Assert.Equal(HttpStatusCode.Redirect, callback.StatusCode);
        Assert.Equal("/sidebar/?contact=1", callback.Headers.Location!.ToString());
        var cookies = callback.Headers.GetValues("Set-Cookie").ToList();
        Assert.Contains(cookies, c => c.StartsWith(SessionTokens.Cookie + "=", StringComparison.Ordinal) && c.Contains("httponly", StringComparison.OrdinalIgnoreCase)
            && c.Contains("samesite=lax", StringComparison.OrdinalIgnoreCase));
        Assert.Contains(cookies, c => c.StartsWith(SessionTokens.CsrfCookie + "=", StringComparison.Ordinal) && !c.Contains("httponly", StringComparison.OrdinalIgnoreCase));

        var me = await browser.GetFromJsonAsync<JsonElement>("/api/auth/me");
        Assert.Equal(userId, me.GetProperty("userId").GetString());
        Assert.Equal(["sales"], me.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        Assert.Contains("customers:read", me.GetProperty("permissions").EnumerateArray().Select(p => p.GetString()));
        Assert.DoesNotContain("admin", me.GetProperty("permissions").EnumerateArray().Select(p => p.GetString()));
        Assert.False(string.IsNullOrEmpty(me.GetProperty("csrfToken").GetString()));

        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        Assert.Equal(1, await conn.ExecuteScalarAsync<int>("select count(*) from audit_log where action = 'auth.signin' and actor = @actor", new { actor = "staff:" + userId }));
    }

    [Fact]
    public async Task Outside_WeCom_sign_in_is_the_login_QR()
    {
        using var browser = app.NewClient();
        using var login = await browser.GetAsync("/api/auth/wecom/login");
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        Assert.Equal("login.work.weixin.qq.com", login.Headers.Location!.Host);
        Assert.Equal("CorpApp", HttpUtility.ParseQueryString(login.Headers.Location.Query)["login_type"]);
    }

    [Theory]
    [InlineData("https://evil.example.com/")]
    [InlineData("//evil.example.com/")]
    [InlineData("/\\evil.example.com")]
    public async Task A_return_address_off_this_site_becomes_the_home_page(string returnUrl)
    {
        var userId = await GrantAsync("steward");
        using var browser = app.NewClient();
        using var login = await browser.GetAsync("/api/auth/wecom/login?returnUrl=" + Uri.EscapeDataString(returnUrl));
        var state = HttpUtility.ParseQueryString(login.Headers.Location!.Query)["state"];
        using var callback = await browser.GetAsync($"/api/auth/wecom/callback?code={app.WeCom.IssueSignInCode(userId)}&state={state}");
        Assert.Equal("/", callback.Headers.Location!.ToString());
    }

    [Fact]
    public async Task A_callback_not_started_here_a_used_code_and_someone_outside_the_company_are_refused()
    {
        var userId = await GrantAsync("sales");
        using var browser = app.NewClient();

        // No login cookie: the state cannot be checked, so a forged link to the callback gets nowhere.
        using var forged = await browser.GetAsync($"/api/auth/wecom/callback?code={app.WeCom.IssueSignInCode(userId)}&state=abc");
        Assert.Equal(HttpStatusCode.Unauthorized, forged.StatusCode);

        var (code, state) = await StartAsync(browser, userId);
        using var wrongState = await browser.GetAsync($"/api/auth/wecom/callback?code={code}&state={state}x");
        Assert.Equal(HttpStatusCode.Unauthorized, wrongState.StatusCode);
        using var first = await browser.GetAsync($"/api/auth/wecom/callback?code={code}&state={state}");
        Assert.Equal(HttpStatusCode.Redirect, first.StatusCode);

        using var other = app.NewClient();
        var (_, state2) = await StartAsync(other, userId);
        using var reused = await other.GetAsync($"/api/auth/wecom/callback?code={code}&state={state2}");
        Assert.Equal(HttpStatusCode.Unauthorized, reused.StatusCode);

        var (outsider, state3) = await StartAsync(other, null);
        using var notMember = await other.GetAsync($"/api/auth/wecom/callback?code={outsider}&state={state3}");
        Assert.Equal(HttpStatusCode.Unauthorized, notMember.StatusCode);
        using var me = await other.GetAsync("/api/auth/me");
        Assert.Equal(HttpStatusCode.Unauthorized, me.StatusCode);
    }

    [Fact]
    public async Task A_member_nobody_granted_signs_in_with_no_permission_and_a_revoked_role_stops_at_once()
    {
        var userId = "nobody-" + Guid.NewGuid().ToString("N")[..8];
        using var browser = await SignedInAsync(userId);
        var me = await browser.GetFromJsonAsync<JsonElement>("/api/auth/me");
        Assert.Empty(me.GetProperty("permissions").EnumerateArray());
        using (var refused = await browser.GetAsync("/api/sync-tasks")) Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);

        await GrantAsync("ops", userId);
        using (var allowed = await browser.GetAsync("/api/sync-tasks")) Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        await GrantAsync(null, userId);
        using (var again = await browser.GetAsync("/api/sync-tasks")) Assert.Equal(HttpStatusCode.Forbidden, again.StatusCode);

        using var deactivate = await app.Client.PutAsJsonAsync($"/api/admin/staff/{userId}", new { roles = new[] { "ops" }, active = false });
        deactivate.EnsureSuccessStatusCode();
        using var gone = await browser.GetAsync("/api/sync-tasks");
        Assert.Equal(HttpStatusCode.Unauthorized, gone.StatusCode);
    }

    [Fact]
    public async Task A_change_with_the_session_cookie_needs_the_CSRF_token_and_logout_ends_the_session()
    {
        var userId = await GrantAsync("ops");
        using var browser = await SignedInAsync(userId);
        var csrf = (await browser.GetFromJsonAsync<JsonElement>("/api/auth/me")).GetProperty("csrfToken").GetString()!;
        var unknownTask = $"/api/sync-tasks/{Guid.NewGuid()}/retry";

        using (var without = await browser.PostAsync(unknownTask, null)) Assert.Equal(HttpStatusCode.Forbidden, without.StatusCode);
        using (var wrong = await Send(browser, HttpMethod.Post, unknownTask, csrf + "0")) Assert.Equal(HttpStatusCode.Forbidden, wrong.StatusCode);
        using (var with = await Send(browser, HttpMethod.Post, unknownTask, csrf)) Assert.Equal(HttpStatusCode.NotFound, with.StatusCode);

        using (var logout = await browser.PostAsync("/api/auth/logout", null)) Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        using var after = await browser.GetAsync("/api/sync-tasks");
        Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
    }

    [Fact]
    public async Task An_admin_key_becomes_a_console_session_and_other_keys_cannot()
    {
        using var browser = app.NewClient();
        using var exchange = new HttpRequestMessage(HttpMethod.Post, "/api/auth/key");
        exchange.Headers.Authorization = new("Bearer", CdpApp.AdminKey);
        using var session = await browser.SendAsync(exchange);
        Assert.Equal(HttpStatusCode.OK, session.StatusCode);
        var me = await browser.GetFromJsonAsync<JsonElement>("/api/auth/me");
        Assert.Equal("bootstrap", me.GetProperty("userId").GetString());
        using (var audit = await browser.GetAsync("/api/audit?action=auth.key-session")) Assert.Equal(HttpStatusCode.OK, audit.StatusCode);

        using var created = await app.Client.PostAsJsonAsync("/api/admin/api-keys", new { name = "bi", permissions = new[] { "customers:read" } });
        var key = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!;
        using var notAdmin = new HttpRequestMessage(HttpMethod.Post, "/api/auth/key");
        notAdmin.Headers.Authorization = new("Bearer", key);
        using var refused = await app.NewClient().SendAsync(notAdmin);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
    }

    [Fact]
    public async Task A_key_is_shown_once_stored_only_as_a_hash_and_works_until_revoked()
    {
        using var created = await app.Client.PostAsJsonAsync("/api/admin/api-keys", new { name = "crm", permissions = new[] { "ingestions:read" } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var body = await created.Content.ReadFromJsonAsync<JsonElement>();
        var key = body.GetProperty("key").GetString()!;
        var keyId = body.GetProperty("info").GetProperty("keyId").GetString()!;

        await using (var conn = await app.Database.DataSource.OpenConnectionAsync())
        {
            var stored = await conn.QuerySingleAsync<byte[]>("select key_hash from api_key where key_id = @keyId", new { keyId });
            Assert.Equal(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(key)), stored);
        }
        var listed = await app.Client.GetStringAsync("/api/admin/api-keys");
        Assert.Contains(keyId, listed, StringComparison.Ordinal);
        Assert.DoesNotContain(key, listed, StringComparison.Ordinal);

        using var client = app.NewClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", key);
        using (var ok = await client.GetAsync($"/api/ingestions/{Guid.NewGuid()}")) Assert.Equal(HttpStatusCode.NotFound, ok.StatusCode);
        using (var revoke = await app.Client.DeleteAsync($"/api/admin/api-keys/{keyId}")) Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);
        using (var after = await client.GetAsync($"/api/ingestions/{Guid.NewGuid()}")) Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
        using (var twice = await app.Client.DeleteAsync($"/api/admin/api-keys/{keyId}")) Assert.Equal(HttpStatusCode.NotFound, twice.StatusCode);
    }

    [Fact]
    public async Task Unknown_roles_and_permissions_are_refused_and_a_failed_change_leaves_no_audit_row()
    {
        using var role = await app.Client.PutAsJsonAsync("/api/admin/staff/someone", new { roles = new[] { "superuser" } });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, role.StatusCode);
        using var permission = await app.Client.PostAsJsonAsync("/api/admin/api-keys", new { name = "x", permissions = new[] { "everything" } });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, permission.StatusCode);

        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        Assert.Equal(0, await conn.ExecuteScalarAsync<int>("select count(*) from audit_log where entity_id = 'someone'"));
    }

    [Fact]
    public async Task The_audit_trail_is_append_only()
    {
        await GrantAsync("auditor");
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        var error = await Assert.ThrowsAsync<Npgsql.PostgresException>(() => conn.ExecuteAsync("update audit_log set actor = 'someone else'"));
        Assert.Contains("append-only", error.MessageText, StringComparison.Ordinal);
        await Assert.ThrowsAsync<Npgsql.PostgresException>(() => conn.ExecuteAsync("delete from audit_log"));
    }

    async Task<string> GrantAsync(string? role, string? userId = null)
    {
        userId ??= $"{role}-{Guid.NewGuid():N}"[..20];
        using var put = await app.Client.PutAsJsonAsync($"/api/admin/staff/{userId}", new { roles = role is null ? Array.Empty<string>() : [role] });
        put.EnsureSuccessStatusCode();
        return userId;
    }

    async Task<(string Code, string State)> StartAsync(HttpClient browser, string? userId)
    {
        using var login = await browser.GetAsync("/api/auth/wecom/login");
        return (app.WeCom.IssueSignInCode(userId), HttpUtility.ParseQueryString(login.Headers.Location!.Query)["state"]!);
    }

    async Task<HttpClient> SignedInAsync(string userId)
    {
        var browser = app.NewClient();
        var (code, state) = await StartAsync(browser, userId);
        using var callback = await browser.GetAsync($"/api/auth/wecom/callback?code={code}&state={state}");
        Assert.Equal(HttpStatusCode.Redirect, callback.StatusCode);
        return browser;
    }

    static Task<HttpResponseMessage> Send(HttpClient client, HttpMethod method, string path, string csrf)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Add(SessionTokens.CsrfHeader, csrf);
        return client.SendAsync(request);
    }
}
