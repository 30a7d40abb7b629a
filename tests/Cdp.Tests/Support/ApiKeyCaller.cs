using System.Net;
using System.Net.Http.Json;
using Cdp.Shared;
using Cdp.Shared.Access;

namespace Cdp.Tests.Support;

/// <summary>A client calling with a fresh secret API key holding <c>permissions</c>, and what the audit trail records for it.</summary>
public sealed class ApiKeyCaller(HttpClient client, string keyId) : IDisposable
{
    public HttpClient Client { get; } = client;
    public string KeyId { get; } = keyId;

    public string Actor => Authenticate.KeyPrefix + KeyId;

    public static async Task<ApiKeyCaller> CreateAsync(CdpApp app, params string[] permissions)
    {
        using var response = await app.Client.PostAsJsonAsync("/api/admin/api-keys", new { name = "test " + TestData.Id("key"), permissions });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var created = (await response.Content.ReadFromJsonAsync<CreatedApiKey>(CdpJson.Options))!;
        var client = app.NewClient();
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", created.Key);
        return new ApiKeyCaller(client, created.Info.KeyId);
    }

    /// <summary><c>var (client, actor) = await ApiKeyCaller.CreateAsync(app, ...)</c>.</summary>
    public void Deconstruct(out HttpClient client, out string actor) => (client, actor) = (Client, Actor);

    public void Dispose() => Client.Dispose();
}
