using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Cdp.Orchestrations;
using Cdp.Shared.Access;
using Cdp.Shared.Api;
using Cdp.Tests.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.AspNetCore.Http;

namespace Cdp.Tests.Access;

/// <summary>Both hosts, with a caller of every kind: keys per permission, a revoked and an expired key, staff per role, an expired session.</summary>
public sealed class AccessMatrixApp : HostPair
{
    public Dictionary<string, string> KeyWith { get; } = [];
    public string RevokedKey { get; private set; } = "";
    public string ExpiredKey { get; private set; } = "";

    /// <summary>Session cookies (with their CSRF tokens) of staff members holding one default role each.</summary>
    public Dictionary<string, (string Cookie, string Csrf)> SessionOf { get; } = [];
    public (string Cookie, string Csrf) ExpiredSession { get; private set; }

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        foreach (var permission in Permissions.All)
        {
            using var created = await Client.PostAsJsonAsync("/api/admin/api-keys", new { name = "only " + permission, permissions = new[] { permission } });
            Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
            KeyWith[permission] = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!;
        }

        using var revocable = await Client.PostAsJsonAsync("/api/admin/api-keys", new { name = "revoked", permissions = Permissions.All });
        var revokedBody = await revocable.Content.ReadFromJsonAsync<JsonElement>();
        RevokedKey = revokedBody.GetProperty("key").GetString()!;
        using var revoked = await Client.DeleteAsync($"/api/admin/api-keys/{revokedBody.GetProperty("info").GetProperty("keyId").GetString()}");
        Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);

        // An expired key cannot be made through the API (expiresAt must be ahead): stored as if made long ago.
        var keys = new ApiKeys(Database.DataSource, TimeProvider.System);
        await using (var conn = await Database.DataSource.OpenConnectionAsync())
        await using (var tx = await conn.BeginTransactionAsync())
        {
            ExpiredKey = (await keys.CreateAsync(conn, tx, "expired", ApiKeys.SecretKind, Permissions.All, [], DateTimeOffset.UtcNow.AddMinutes(-1), "test")).Key;
            await tx.CommitAsync();
        }

        var options = Services.GetRequiredService<IOptions<AccessOptions>>();
        var sessions = new SessionTokens(options, TimeProvider.System);
        foreach (var role in Roles.Grants.Keys)
        {
            var userId = "matrix-" + role;
            using var put = await Client.PutAsJsonAsync($"/api/admin/staff/{userId}", new { roles = new[] { role } });
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
            var (token, session) = sessions.Issue(Authenticate.StaffPrefix + userId);
            SessionOf[role] = (token, session.Csrf);
        }
        var (old, oldSession) = new SessionTokens(options, new FixedClock(DateTimeOffset.UtcNow.AddDays(-2))).Issue(Authenticate.StaffPrefix + "matrix-admin");
        ExpiredSession = (old, oldSession.Csrf);
    }
}

/// <summary>A clock stopped at one time: sessions issued by it expire relative to that time.</summary>
sealed class FixedClock(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
}

/// <summary>
/// Generated from the route table, so a new route cannot be left out: every route that needs a permission, with every
/// kind of caller, on both hosts — 401 without a valid credential, 403 without the permission, admitted with it.
/// </summary>
public sealed class AccessMatrixTests(AccessMatrixApp app) : IClassFixture<AccessMatrixApp>
{
    public static TheoryData<string, string> GuardedRoutes()
    {
        var data = new TheoryData<string, string>();
        foreach (var route in ApiRoutes.All.Where(r => r.Permission != ApiRoute.Public))
            foreach (var method in route.Methods) data.Add(route.Name, method);
        return data;
    }

    [Fact]
    public void Every_route_declares_a_known_permission_and_only_webhooks_sign_in_and_health_are_public()
    {
        foreach (var route in ApiRoutes.All)
            Assert.True(route.Permission == ApiRoute.Public || Permissions.IsKnown(route.Permission), $"{route}: unknown permission {route.Permission}");
        var open = ApiRoutes.All.Where(r => r.Permission == ApiRoute.Public).Select(r => r.Path).Order(StringComparer.Ordinal).ToList();
        // {*path}: the CORS preflight (OPTIONS), which browsers send without credentials.
        Assert.Equal(["auth/logout", "auth/me", "auth/wecom/callback", "auth/wecom/login", "health", "ingest/{channel}", "{*path}"], open);
    }

    [Theory]
    [MemberData(nameof(GuardedRoutes))]
    public async Task Each_caller_gets_what_the_route_table_says_on_both_hosts(string name, string method)
    {
        var route = ApiRoutes.All.Single(r => r.Name == name);
        var wrongPermission = route.Permission == Permissions.AuditRead ? Permissions.CustomersRead : Permissions.AuditRead;
        var roleWith = Roles.Grants.Where(g => g.Value.Contains(route.Permission)).Select(g => g.Key).OrderBy(r => r == Roles.Admin).First();
        var roleWithout = Roles.Grants.First(g => !g.Value.Contains(route.Permission)).Key;

        await Expect(route, method, Caller.None, 401);
        await Expect(route, method, Caller.Bearer(app.KeyWith[wrongPermission]), 403);
        await Expect(route, method, Caller.Bearer(app.RevokedKey), 401);
        await Expect(route, method, Caller.Bearer(app.ExpiredKey), 401);
        await Expect(route, method, Caller.Bearer("cdp_sk_000000000000_forged"), 401);
        await Expect(route, method, Caller.Cookie(app.ExpiredSession, withCsrf: true), 401);
        await Expect(route, method, Caller.Cookie(app.SessionOf[roleWithout], withCsrf: true), 403);
        await Expect(route, method, Caller.Bearer(app.KeyWith[route.Permission]), Admitted);
        // KeySession turns an admin *key* into a session; a signed-in admin has no use for it and is told so (403).
        if (route != AccessRoutes.KeySession) await Expect(route, method, Caller.Cookie(app.SessionOf[roleWith], withCsrf: true), Admitted);
        if (!HttpMethods.IsGet(method)) await Expect(route, method, Caller.Cookie(app.SessionOf[roleWith], withCsrf: false), 403);
    }

    [Fact]
    public async Task A_publishable_key_reaches_only_events_and_only_from_its_origins()
    {
        using var created = await app.Client.PostAsJsonAsync("/api/admin/api-keys", new
        {
            name = "website", kind = "publishable", permissions = new[] { "events:write" }, allowedOrigins = new[] { "https://www.example.com" },
        });
        var key = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!;
        Assert.StartsWith("cdp_pk_", key, StringComparison.Ordinal);

        var events = Shared.Events.EventRoutes.PostEvents;
        await Expect(events, "POST", Caller.Bearer(key, origin: "https://www.example.com"), Admitted);
        await Expect(events, "POST", Caller.Bearer(key, origin: "https://evil.example.net"), 403);
        await Expect(events, "POST", Caller.Bearer(key), 403);
        await Expect(Shared.Customers.CustomerRoutes.GetAccount360, "GET", Caller.Bearer(key, origin: "https://www.example.com"), 403);
    }

    [Fact]
    public async Task A_publishable_key_cannot_be_made_with_more_than_events_write_or_without_origins()
    {
        using var wide = await app.Client.PostAsJsonAsync("/api/admin/api-keys", new
        {
            name = "too wide", kind = "publishable", permissions = new[] { "customers:read" }, allowedOrigins = new[] { "https://www.example.com" },
        });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, wide.StatusCode);
        using var nowhere = await app.Client.PostAsJsonAsync("/api/admin/api-keys", new { name = "no origin", kind = "publishable", permissions = new[] { "events:write" } });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, nowhere.StatusCode);
    }

    const int Admitted = 0;

    sealed record Caller(string What, Action<HttpRequestMessage> Apply)
    {
        public static Caller None { get; } = new("anonymous", _ => { });

        public static Caller Bearer(string key, string? origin = null) => new($"key {key[..Math.Min(key.Length, 20)]}… from {origin ?? "no origin"}", r =>
        {
            r.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            if (origin is not null) r.Headers.Add("Origin", origin);
        });

        public static Caller Cookie((string Cookie, string Csrf) session, bool withCsrf) => new($"session{(withCsrf ? "" : " without CSRF")}", r =>
        {
            r.Headers.Add("Cookie", $"{SessionTokens.Cookie}={session.Cookie}");
            if (withCsrf) r.Headers.Add(SessionTokens.CsrfHeader, session.Csrf);
        });
    }

    /// <summary>The status both hosts must give; <see cref="Admitted"/>: anything but 401 and the permission's own 403.</summary>
    async Task Expect(ApiRoute route, string method, Caller caller, int status)
    {
        foreach (var (host, send) in new (string, Func<HttpRequestMessage, Task<HttpResponseMessage>>)[]
                 {
                     ("local", app.Anonymous.SendAsync),
                     ("azure", r => app.Azure.SendAsync(r, app.Durable.Client)),
                 })
        {
            var request = new HttpRequestMessage(new HttpMethod(method), Path(route))
            {
                Content = method is "POST" or "PUT" ? new StringContent("{}", Encoding.UTF8, "application/json") : null,
            };
            caller.Apply(request);
            using var response = await send(request);
            var body = await response.Content.ReadAsStringAsync();
            var what = $"{host}: {method} {route.Path} as {caller.What} -> {(int)response.StatusCode} {body}";
            if (status == Admitted)
                Assert.False(response.StatusCode == HttpStatusCode.Unauthorized
                    || response.StatusCode == HttpStatusCode.Forbidden && RefusedAtTheDoor(body), what);
            else
                Assert.True((int)response.StatusCode == status, what);
        }
    }

    /// <summary>A 403 of the access check itself (not one a route gives for its own reasons).</summary>
    static bool RefusedAtTheDoor(string problem) =>
        JsonDocument.Parse(problem).RootElement.GetProperty("detail").GetString() is { } detail
        && (detail.Contains("needs the permission", StringComparison.Ordinal) || detail.Contains("CSRF", StringComparison.Ordinal)
            || detail.Contains("not allowed from this origin", StringComparison.Ordinal));

    /// <summary>A path of the route with made-up values (route constraints satisfied), so what answers is the access check.</summary>
    static string Path(ApiRoute route) => "/api/" + Regex.Replace(route.Path, @"\{(\w+)(:\w+)?\}", m => m.Groups[2].Value == ":guid"
        ? Guid.NewGuid().ToString()
        : m.Groups[1].Value switch { "channel" => "crm", "userId" => "matrix-nobody", _ => "nope" });
}
