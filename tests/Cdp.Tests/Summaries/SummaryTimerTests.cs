using Cdp.Orchestrations;
using Cdp.Orchestrations.Summaries;
using Cdp.Tests.Support;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Cdp.Tests.Summaries;

/// <summary>The local host's timer starts the full recalculation every Summaries:FullRecalculationInterval.</summary>
public sealed class SummaryTimerTests(CdpBackend backend) : IClassFixture<CdpBackend>
{
    [Fact]
    public async Task The_timer_starts_the_full_recalculation_which_completes()
    {
        var settings = new Dictionary<string, string?>(backend.Settings) { ["Summaries:FullRecalculationInterval"] = "00:00:00.500" };
        await using var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(b => b
            .ConfigureAppConfiguration(c => c.AddInMemoryCollection(settings)));
        var client = factory.Services.GetRequiredService<IOrchestrationClient>();

        OrchestrationStatus? status = null;
        await Eventually.Until(async () =>
            (status = await client.GetStatusAsync(RecalculateAllSummariesOrchestrator.InstanceId)) is { RuntimeStatus: OrchestrationRuntimeStatus.Completed },
            TimeSpan.FromSeconds(30), "a timer-started full recalculation");
        Assert.Equal(nameof(RecalculateAllSummariesOrchestrator), status!.Name);
    }

    [Fact]
    public async Task A_non_positive_interval_is_refused_at_start()
    {
        var settings = new Dictionary<string, string?>(backend.Settings) { ["Summaries:FullRecalculationInterval"] = "00:00:00" };
        await using var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(b => b
            .ConfigureAppConfiguration(c => c.AddInMemoryCollection(settings)));
        var error = Assert.ThrowsAny<Exception>(() => factory.Services);
        Assert.Contains("FullRecalculationInterval", error.ToString(), StringComparison.Ordinal);
    }
}
