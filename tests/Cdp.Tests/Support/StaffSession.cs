using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Cdp.Shared.Access;

namespace Cdp.Tests.Support;

/// <summary>A staff member signed in the way a browser does it: roles granted by the admin, then WeCom sign-in.</summary>
public static partial class StaffSession
{
    /// <summary>
    /// Grants <paramref name="roles"/> (and the department) through <c>PUT /api/admin/staff/{userId}</c>, signs in through
    /// <c>/api/auth/wecom/login</c> and the callback with a stand-in code, and returns a client holding the session
    /// cookie that sends the CSRF header on every request.
    /// </summary>
    public static async Task<HttpClient> SignInAsync(CdpApp app, string userId, string[] roles, string? department = null)
    {
        using (var granted = await app.Client.PutAsJsonAsync($"/api/admin/staff/{userId}", new { roles, department }))
            Assert.Equal(HttpStatusCode.OK, granted.StatusCode);

        var client = app.NewClient();
        using var login = await client.GetAsync("/api/auth/wecom/login?returnUrl=/");
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        var state = State().Match(login.Headers.Location!.ToString()).Groups[1].Value;
        using var callback = await client.GetAsync($"/api/auth/wecom/callback?code={app.WeCom.IssueSignInCode(userId)}&state={state}");
        Assert.Equal(HttpStatusCode.Redirect, callback.StatusCode);

        var me = await client.GetFromJsonAsync<JsonElement>("/api/auth/me");
        client.DefaultRequestHeaders.Add(SessionTokens.CsrfHeader, me.GetProperty("csrfToken").GetString());
        return client;
    }

    [GeneratedRegex("[?&]state=([A-Za-z0-9]+)")]
    private static partial Regex State();
}
