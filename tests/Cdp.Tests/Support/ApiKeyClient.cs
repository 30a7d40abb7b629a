using System.Net;
using System.Net.Http.Json;
using Cdp.Shared;
using Cdp.Shared.Access;

namespace Cdp.Tests.Support;

/// <summary>A caller with exactly some permissions: an API key the admin creates, and a client that sends it.</summary>
public static class ApiKeyClient
{
    /// <summary>The client and the actor the audit trail records for it ("key:&lt;key id&gt;").</summary>
    public static async Task<(HttpClient Client, string Actor)> WithPermissionsAsync(this CdpApp app, params string[] permissions)
    {
        using var response = await app.Client.PostAsJsonAsync("/api/admin/api-keys", new { name = "test " + string.Join(" ", permissions), permissions });
        Assert.True(response.StatusCode == HttpStatusCode.Created, string.Join("\n", app.Logs.Lines.Where(l => l.Contains("Unhandled", StringComparison.Ordinal) || l.Contains("Exception", StringComparison.Ordinal)).TakeLast(3)));
        var created = (await response.Content.ReadFromJsonAsync<CreatedApiKey>(CdpJson.Options))!;
        var client = app.NewClient();
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", created.Key);
        return (client, Authenticate.KeyPrefix + created.Info.KeyId);
    }
}
