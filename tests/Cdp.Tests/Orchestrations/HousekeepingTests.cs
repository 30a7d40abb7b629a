using Cdp.Orchestrations;
using Cdp.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Cdp.Tests.Orchestrations;

public sealed class HousekeepingTests(ApprovalApp app) : IClassFixture<ApprovalApp>
{
    [Fact]
    public async Task Finished_orchestrations_older_than_the_retention_are_purged_and_recent_or_running_ones_kept()
    {
        var client = app.Services.GetRequiredService<IOrchestrationClient>();
        var old = await client.StartAsync(nameof(Approval), 0, "old-" + Guid.NewGuid().ToString("N"));
        var recent = await client.StartAsync(nameof(Approval), 0, "recent-" + Guid.NewGuid().ToString("N"));
        var running = await client.StartAsync(nameof(Approval), 600_000, "running-" + Guid.NewGuid().ToString("N"));
        await client.WaitForCompletionAsync(old, TimeSpan.FromSeconds(20));
        await client.WaitForCompletionAsync(recent, TimeSpan.FromSeconds(20));
        await using (var age = app.Database.DataSource.CreateCommand(
            "update orchestration_instance set completed_at = now() - interval '8 days' where instance_id = $1"))
        {
            age.Parameters.AddWithValue(old);
            await age.ExecuteNonQueryAsync();
        }

        var purged = await app.Services.GetRequiredService<Housekeeping>().RunAsync();

        Assert.True(purged >= 1);
        Assert.Null(await client.GetStatusAsync(old));
        Assert.NotNull(await client.GetStatusAsync(recent));
        Assert.NotNull(await client.GetStatusAsync(running));
    }
}
