using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Cdp.Orchestrations;
using Cdp.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Cdp.Tests.Orchestrations;

/// <summary>The local host with the engine tests' Approval orchestrator registered.</summary>
public sealed class ApprovalApp : CdpApp
{
    protected override void ConfigureServices(IServiceCollection services) => services.AddOrchestrator<Approval>();
}

/// <summary>The Durable-Functions-style status, raiseEvent and terminate routes of the local host.</summary>
public sealed class DurableEndpointTests(ApprovalApp app) : IClassFixture<ApprovalApp>
{
    readonly HttpClient client = app.Client;
    readonly IOrchestrationClient orchestrations = app.Services.GetRequiredService<IOrchestrationClient>();

    [Fact]
    public async Task Status_shows_a_running_instance_and_a_raised_event_completes_it()
    {
        var id = await orchestrations.StartAsync(nameof(Approval), 60_000, "approval-" + Guid.NewGuid().ToString("N"));
        await Eventually.Until(async () => (await Status(id)).GetProperty("customStatus").ValueKind == JsonValueKind.String, TimeSpan.FromSeconds(20));

        var running = await Status(id);
        Assert.Equal(("Approval", id, "Running", "waiting"),
            (running.GetProperty("name").GetString(), running.GetProperty("instanceId").GetString(),
             running.GetProperty("runtimeStatus").GetString(), running.GetProperty("customStatus").GetString()));
        Assert.Equal(60_000, running.GetProperty("input").GetInt32());

        using var raised = await client.PostAsync($"/runtime/webhooks/durabletask/instances/{id}/raiseEvent/Approved",
            new StringContent("\"王经理\"", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Accepted, raised.StatusCode);

        await Eventually.Until(async () => (await Status(id)).GetProperty("runtimeStatus").GetString() == "Completed", TimeSpan.FromSeconds(20));
        Assert.Equal("approved by 王经理", (await Status(id)).GetProperty("output").GetString());
    }

    [Fact]
    public async Task Terminate_ends_a_waiting_instance()
    {
        var id = await orchestrations.StartAsync(nameof(Approval), 60_000, "approval-" + Guid.NewGuid().ToString("N"));

        using var response = await client.PostAsync($"/runtime/webhooks/durabletask/instances/{id}/terminate?reason=ops", null);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        await Eventually.Until(async () => (await Status(id)).GetProperty("runtimeStatus").GetString() == "Terminated", TimeSpan.FromSeconds(20));
    }

    [Theory]
    [InlineData("GET", "")]
    [InlineData("POST", "/terminate")]
    [InlineData("POST", "/raiseEvent/Approved")]
    public async Task Unknown_instance_is_404_problem(string method, string suffix)
    {
        using var response = await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), $"/runtime/webhooks/durabletask/instances/nope-{Guid.NewGuid():N}{suffix}"));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Event_data_that_is_not_json_is_400()
    {
        var id = await orchestrations.StartAsync(nameof(Approval), 60_000, "approval-" + Guid.NewGuid().ToString("N"));
        using var response = await client.PostAsync($"/runtime/webhooks/durabletask/instances/{id}/raiseEvent/Approved",
            new StringContent("{not json", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    async Task<JsonElement> Status(string id) =>
        await client.GetFromJsonAsync<JsonElement>($"/runtime/webhooks/durabletask/instances/{id}");
}
