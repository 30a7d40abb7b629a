using System.Net;
using System.Net.Http.Json;
using Cdp.Shared;
using Cdp.Shared.VirtualNumbers;
using Cdp.Tests.Support;
using Dapper;

namespace Cdp.Tests.VirtualNumbers;

/// <summary>The binding orchestration in real host processes, one SIGKILLed while its bind call is in flight.</summary>
public sealed class VirtualNumberCrashTests(CdpBackend backend) : IClassFixture<CdpBackend>, IAsyncLifetime
{
    PrivacyNumberStandIn provider = null!;

    public async Task InitializeAsync() => provider = await PrivacyNumberStandIn.StartAsync();

    public async Task DisposeAsync() => await provider.DisposeAsync();

    [Fact]
    public async Task A_host_killed_mid_binding_leaves_it_to_another_host_which_binds_it()
    {
        var settings = new Dictionary<string, string?>(backend.Settings);
        foreach (var (key, value) in VirtualNumberApp.VirtualNumberSettings(provider, backend.WeCom, TimeSpan.FromMinutes(30))) settings[key] = value;
        settings["VirtualNumbers:AttemptTimeout"] = "00:00:20";
        settings["VirtualNumbers:WaitTimeout"] = "00:00:00.500";
        settings["Orchestrations:LeaseDuration"] = "00:00:02";
        settings["Orchestrations:PollInterval"] = "00:00:00.100";
        // The first bind answers only after its host is dead.
        provider.DelayNext(1, TimeSpan.FromSeconds(8));

        var doomed = await HostProcess.StartAsync(settings);
        BindingView accepted;
        using (var response = await doomed.Client.PostAsJsonAsync("/api/virtual-numbers/bindings",
                   new { mode = "AXB", a = TestData.Mobile(), b = TestData.Mobile(), city = "北京", requestId = VirtualNumberTests.NewRequestId() }))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            accepted = (await response.Content.ReadFromJsonAsync<BindingView>(CdpJson.Options))!;
            Assert.Equal(BindingStates.Operation, accepted.State);
        }
        await Eventually.Until(() => provider.BindCalls(accepted.BindingId.ToString()).Count > 0, TimeSpan.FromSeconds(20), "bind in flight");
        doomed.Kill();
        await doomed.DisposeAsync();

        await using var survivor = await HostProcess.StartAsync(settings);
        BindingView view = accepted;
        await Eventually.Until(async () =>
        {
            view = (await survivor.Client.GetFromJsonAsync<BindingView>($"/api/virtual-numbers/bindings/{accepted.BindingId}", CdpJson.Options))!;
            return view.State == BindingStates.Bind;
        }, TimeSpan.FromSeconds(60), "the survivor binds");

        Assert.NotNull(view.VirtualNumber);
        Assert.Equal(1, view.Attempts);
        // The activity sets BIND; the engine records its result just after.
        List<string> history = [];
        await Eventually.Until(async () =>
        {
            await using var conn = await backend.Database.DataSource.OpenConnectionAsync();
            history = (await conn.QueryAsync<string>("select kind from orchestration_history where instance_id = @id order by event_id",
                new { id = $"vn-bind-{accepted.BindingId}" })).ToList();
            return history.Contains("ActivityCompleted");
        }, TimeSpan.FromSeconds(30), "the attempt's result recorded");
        Assert.Equal(1, history.Count(k => k == "ActivityCompleted"));
        Assert.Equal(0, history.Count(k => k == "ActivityFailed"));
    }
}
