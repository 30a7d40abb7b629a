using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Cdp.Orchestrations.Privacy;
using Cdp.Tests.Hosting;
using Cdp.Tests.Support;
using Dapper;

namespace Cdp.Tests.AzureHost;

/// <summary>The erase route through the Azure host's HTTP trigger, its EraseSubjectOrchestrator and activity on the real Durable worker.</summary>
public sealed class AzurePrivacyTests(AzureHostApp azure) : IClassFixture<AzureHostApp>
{
    [Fact]
    public async Task Erase_runs_on_the_Durable_worker_and_the_request_reports_completed()
    {
        var (contact, _) = await azure.NewContactAsync(withWeCom: false);
        await using var conn = await azure.Database.DataSource.OpenConnectionAsync();
        var mobile = await conn.QuerySingleAsync<string>("select mobile_phone from contact where contact_id = @contact", new { contact });

        using var erase = await azure.Http.SendAsync(HostPair.AsAdmin(new HttpRequestMessage(HttpMethod.Post, "/api/privacy/subjects/erase")
        {
            Content = JsonContent.Create(new { mobile, reason = "本人申请" }),
        }), azure.DurableClient);
        Assert.Equal(HttpStatusCode.Accepted, erase.StatusCode);
        var requestId = (await erase.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("requestId").GetGuid();

        string? status = null;
        await Eventually.Until(async () =>
        {
            using var get = await azure.Http.SendAsync(HostPair.AsAdmin(new HttpRequestMessage(HttpMethod.Get, $"/api/privacy/requests/{requestId}")));
            status = (await get.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString();
            return status == "completed";
        }, TimeSpan.FromSeconds(120), "the erasure completed on Durable");

        Assert.True(azure.Functions.ExecutionsOf(EraseSubjectOrchestrator.InstanceId(requestId)) >= 1);
        Assert.Equal(0, await conn.QuerySingleAsync<int>("select count(*)::int from contact where contact_id = @contact", new { contact }));
        Assert.Equal(0, await conn.QuerySingleAsync<int>("select count(*)::int from privacy_request where mobile is not null"));
    }
}
