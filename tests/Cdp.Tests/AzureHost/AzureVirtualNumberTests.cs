using System.Net;
using System.Net.Http.Json;
using Cdp.Orchestrations;
using Cdp.Orchestrations.VirtualNumbers;
using Cdp.Shared;
using Cdp.Shared.VirtualNumbers;
using Cdp.Tests.Support;
using Cdp.Tests.VirtualNumbers;

namespace Cdp.Tests.AzureHost;

/// <summary>The Azure host with a privacy-number provider stand-in (bindings live 4 s, so the expiry timer fires in the test).</summary>
public sealed class AzureVirtualNumberApp : AzureHostApp
{
    public PrivacyNumberStandIn Provider { get; private set; } = null!;

    protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings =>
        VirtualNumberApp.VirtualNumberSettings(Provider, WeCom, TimeSpan.FromSeconds(4));

    public override async Task InitializeAsync()
    {
        Provider = await PrivacyNumberStandIn.StartAsync();
        await base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Provider.DisposeAsync();
    }
}

/// <summary>
/// The binding orchestration through the Azure host's CreateBinding HTTP function, BindVirtualNumberOrchestrator and its
/// activity functions on the real Durable worker (its durable timers and external-event wait).
/// </summary>
public sealed class AzureVirtualNumberTests(AzureVirtualNumberApp azure) : IClassFixture<AzureVirtualNumberApp>
{
    [Fact]
    public async Task Two_failures_then_bound_then_unbound_at_expiry_on_the_Durable_worker()
    {
        azure.Provider.FailNext(2, ProviderCodes.SystemError);
        var binding = await BindAsync(new { mode = "AXB", a = TestData.Mobile(), b = TestData.Mobile(), city = "上海", requestId = VirtualNumberTests.NewRequestId() });
        Assert.Equal((BindingStates.Bind, 3), (binding.State, binding.Attempts));
        Assert.Equal(3, azure.Provider.BindCalls(binding.BindingId.ToString()).Count);

        var status = await azure.DurableClient.WaitForInstanceCompletionAsync(BindVirtualNumberOrchestrator.InstanceIdOf(binding.BindingId), getInputsAndOutputs: true,
            new CancellationTokenSource(TimeSpan.FromSeconds(90)).Token);
        Assert.Equal("NOT_BIND", status.ReadOutputAs<BindVirtualNumberOutput>()!.State);
        Assert.True(azure.Functions.ExecutionsOf(status.InstanceId) > 3, $"executions: {azure.Functions.ExecutionsOf(status.InstanceId)}");
        Assert.False(azure.Provider.Subscriptions.Single(s => s.SecretNo == binding.VirtualNumber).Active);
    }

    [Fact]
    public async Task After_the_last_retry_NOT_BIND_and_one_alert_on_the_Durable_worker()
    {
        azure.Provider.FailNext(4, ProviderCodes.FlowLimit);
        try
        {
            var requestId = VirtualNumberTests.NewRequestId();
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/virtual-numbers/bindings")
            {
                Content = JsonContent.Create(new { mode = "XB", b = TestData.Mobile(), city = "北京", requestId }),
            };
            request.Headers.Authorization = new("Bearer", CdpBackend.AdminKey);
            using var response = await azure.Http.SendAsync(request, azure.DurableClient);
            Assert.True(response.StatusCode is HttpStatusCode.ServiceUnavailable or HttpStatusCode.Accepted, response.StatusCode.ToString());
            Guid id;
            await using (var conn = await azure.Database.DataSource.OpenConnectionAsync())
                id = await Dapper.SqlMapper.QuerySingleAsync<Guid>(conn, "select binding_id from virtual_binding where request_id = @requestId", new { requestId });
            await Eventually.Until(() => azure.WeCom.Alerts.Any(a => a.Contains(id.ToString(), StringComparison.Ordinal)), TimeSpan.FromSeconds(60), "the alert");
            var status = await azure.DurableClient.WaitForInstanceCompletionAsync(BindVirtualNumberOrchestrator.InstanceIdOf(id), getInputsAndOutputs: true,
                new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
            Assert.Equal((BindingStates.NotBind, ProviderCodes.FlowLimit, 4), (status.ReadOutputAs<BindVirtualNumberOutput>()!.State,
                status.ReadOutputAs<BindVirtualNumberOutput>()!.Code, status.ReadOutputAs<BindVirtualNumberOutput>()!.Attempts));
            Assert.Single(azure.WeCom.Alerts, a => a.Contains(id.ToString(), StringComparison.Ordinal));
            Assert.Equal(4, azure.Provider.BindCalls(id.ToString()).Count);
        }
        finally { azure.Provider.ClearCues(); }
    }

    async Task<BindingView> BindAsync(object body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/virtual-numbers/bindings") { Content = JsonContent.Create(body) };
        request.Headers.Authorization = new("Bearer", CdpBackend.AdminKey);
        using var response = await azure.Http.SendAsync(request, azure.DurableClient);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.Accepted, $"{response.StatusCode}: {text}");
        var id = System.Text.Json.JsonSerializer.Deserialize<BindingView>(text, CdpJson.Options)!.BindingId;
        var store = (BindingStore)azure.Services.GetService(typeof(BindingStore))!;
        Binding? binding = null;
        await Eventually.Until(async () => (binding = await store.GetAsync(id, CancellationToken.None))!.State == BindingStates.Bind, TimeSpan.FromSeconds(60), "bound");
        return binding!.ToView();
    }
}
