using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Cdp.Tests.Events;
using Cdp.Tests.Summaries;
using Cdp.Tests.Support;

namespace Cdp.Tests.Customers;

/// <summary>The views when Redis or ClickHouse fail under a running host: they answer from what is left.</summary>
public sealed class CustomerViewOutageTests(CustomerViewOutageTests.Backend app) : IClassFixture<CustomerViewOutageTests.Backend>
{
    public sealed class Backend : EventsApp
    {
        protected override bool StartsHost => false;
    }

    SummaryHistory History => new(app.Database.DataSource);

    [Fact]
    public async Task With_redis_stopped_mid_test_the_views_answer_from_the_databases_and_writes_still_show()
    {
        await using var redis = await RedisServer.StartAsync();
        var host = app.StartHost(new Dictionary<string, string?> { ["ConnectionStrings:Redis"] = redis.Address });
        using var client = CdpApp.AsAdmin(host.CreateClient());
        var accountId = await History.AccountAsync("断缓存" + TestData.CompanyWord() + "有限公司");
        var contactId = await History.ContactAsync(accountId);
        await Eventually.Until(async () => (await Get(client, $"/api/accounts/{accountId}/360")).GetProperty("cached").GetBoolean(),
            TimeSpan.FromSeconds(10), "served from Redis");

        redis.Stop();

        for (var i = 0; i < 3; i++)
        {
            var view = await Get(client, $"/api/accounts/{accountId}/360");
            Assert.False(view.GetProperty("cached").GetBoolean());
            Assert.Equal(contactId, Assert.Single(view.GetProperty("contacts").EnumerateArray()).GetProperty("contactId").GetGuid());
        }
        // A write while Redis is down is saved, and the next read shows it.
        Assert.Equal(HttpStatusCode.Accepted, (await client.PutAsJsonAsync($"/api/contacts/{contactId}/tags", new { tags = new[] { "无缓存" } })).StatusCode);
        Assert.Equal("无缓存", Assert.Single((await Get(client, $"/api/contacts/{contactId}/360")).GetProperty("tags").EnumerateArray()).GetString());

        // Redis back (empty): the cache serves again.
        await redis.RestartAsync();
        await Eventually.Until(async () => (await Get(client, $"/api/accounts/{accountId}/360")).GetProperty("cached").GetBoolean(),
            TimeSpan.FromSeconds(20), "served from Redis again");
        await app.StopHostAsync(host);
    }

    [Fact]
    public async Task With_clickhouse_down_the_view_is_partial_without_behaviour_and_everything_else_is_there()
    {
        var host = app.StartHost(new Dictionary<string, string?> { ["ConnectionStrings:ClickHouse"] = "http://127.0.0.1:1" });
        using var client = CdpApp.AsAdmin(host.CreateClient());
        var accountId = await History.AccountAsync("断行为" + TestData.CompanyWord() + "有限公司");
        var contactId = await History.ContactAsync(accountId);
        await History.OpportunityAsync(accountId, 100m, "proposal");

        var view = await Get(client, $"/api/accounts/{accountId}/360");
        Assert.True(view.GetProperty("partial").GetBoolean());
        Assert.Equal(JsonValueKind.Null, view.GetProperty("behaviour").ValueKind);
        Assert.Equal(contactId, Assert.Single(view.GetProperty("contacts").EnumerateArray()).GetProperty("contactId").GetGuid());
        Assert.Single(view.GetProperty("opportunities").EnumerateArray());

        var contact = await Get(client, $"/api/contacts/{contactId}/360");
        Assert.True(contact.GetProperty("partial").GetBoolean());
        await app.StopHostAsync(host);
    }

    [Fact]
    public async Task With_clickhouse_answering_too_slowly_the_view_is_partial_after_the_query_timeout()
    {
        // A ClickHouse that accepts connections and never answers.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var accepted = new List<TcpClient>();
        _ = Task.Run(async () => { while (true) accepted.Add(await silent.AcceptTcpClientAsync()); });
        var host = app.StartHost(new Dictionary<string, string?>
        {
            ["ConnectionStrings:ClickHouse"] = $"http://127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}",
            ["Events:QueryTimeout"] = "00:00:00.500",
            ["Topics:ConsumersEnabled"] = "false",
        });
        using var client = CdpApp.AsAdmin(host.CreateClient());
        var leadId = await History.LeadAsync();

        var lead = await Get(client, $"/api/leads/{leadId}");
        Assert.True(lead.GetProperty("partial").GetBoolean());
        Assert.Equal(JsonValueKind.Null, lead.GetProperty("behaviour").ValueKind);
        Assert.Equal(leadId, lead.GetProperty("leadId").GetGuid());
        await app.StopHostAsync(host);
        foreach (var c in accepted) c.Dispose();
    }

    static async Task<JsonElement> Get(HttpClient client, string path)
    {
        using var response = await client.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }
}
