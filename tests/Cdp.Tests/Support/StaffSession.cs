using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Web;
using Cdp.Shared;
using Cdp.Shared.Access;

namespace Cdp.Tests.Support;

/// <summary>
/// A client signed in as WeCom staff member <see cref="UserId"/> the way a browser is: roles granted by the admin,
/// then /api/auth/wecom/login and the callback with a stand-in sign-in code; it sends the CSRF header on every call.
/// </summary>
public sealed class StaffSession(HttpClient client, string userId) : IDisposable
{
    public HttpClient Client { get; } = client;
    public string UserId { get; } = userId;

    /// <summary>What the audit trail records for this member.</summary>
    public string Actor => Authenticate.StaffPrefix + UserId;

    public static async Task<StaffSession> SignInAsync(CdpApp app, string userId, params string[] roles)
    {
        using (var grant = await app.Client.PutAsJsonAsync($"/api/admin/staff/{userId}", new { roles }))
            Assert.True(grant.StatusCode == HttpStatusCode.OK, await grant.Content.ReadAsStringAsync());
        var client = app.NewClient();
        using var login = await client.GetAsync("/api/auth/wecom/login?returnUrl=/");
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        var state = HttpUtility.ParseQueryString(login.Headers.Location!.Query)["state"];
        using var callback = await client.GetAsync($"/api/auth/wecom/callback?code={app.WeCom.IssueSignInCode(userId)}&state={state}");
        Assert.Equal(HttpStatusCode.Redirect, callback.StatusCode);
        var me = await client.GetFromJsonAsync<JsonElement>("/api/auth/me");
        client.DefaultRequestHeaders.Add(SessionTokens.CsrfHeader, me.GetProperty("csrfToken").GetString());
        return new StaffSession(client, userId);
    }

    public void Dispose() => Client.Dispose();
}

/// <summary>A client calling with a fresh secret API key holding <c>permissions</c>.</summary>
public sealed class ApiKeyCaller(HttpClient client, string keyId) : IDisposable
{
    public HttpClient Client { get; } = client;
    public string KeyId { get; } = keyId;

    /// <summary>What the audit trail records for this key.</summary>
    public string Actor => Authenticate.KeyPrefix + KeyId;

    public static async Task<ApiKeyCaller> CreateAsync(CdpApp app, params string[] permissions)
    {
        using var response = await app.Client.PostAsJsonAsync("/api/admin/api-keys", new { name = "test " + TestData.Id("key"), permissions });
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        var created = (await response.Content.ReadFromJsonAsync<CreatedApiKey>(CdpJson.Options))!;
        var client = app.NewClient();
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", created.Key);
        return new ApiKeyCaller(client, created.Info.KeyId);
    }

    public void Dispose() => Client.Dispose();
}
