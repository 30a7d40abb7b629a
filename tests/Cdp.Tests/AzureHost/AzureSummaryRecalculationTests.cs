using Cdp.Orchestrations;
using Cdp.Orchestrations.Summaries;
using Cdp.Shared.Messaging;
using Cdp.Shared.Summaries;
using Cdp.Tests.Conversion;
using Cdp.Tests.Support;
using Cdp.Tests.Summaries;
using Dapper;
using Npgsql;

namespace Cdp.Tests.AzureHost;

/// <summary>
/// The full summary recalculation's fan-out through the Azure host's RecalculateAllSummariesOrchestrator and
/// QueueSummaryBatchActivity functions on the real Durable worker, beside the same run on the local engine.
/// </summary>
public sealed class AzureSummaryRecalculationTests(AzureHostApp azure, CdpApp local) : IClassFixture<AzureHostApp>, IClassFixture<CdpApp>
{
    [Fact]
    public async Task Every_entity_is_queued_once_page_by_page_and_the_counts_are_the_local_engines()
    {
        // 9 accounts, 8 contacts and 3 leads in each database; pages of 4, so a type ends on a full page (contacts,
        // then an empty one), a short page (accounts) or a first short page (leads).
        var onAzure = await SeedAsync(azure.Database.DataSource);
        var onLocal = await SeedAsync(local.Database.DataSource);
        var options = new SummariesOptions { BatchSize = 4 };

        var (azureResult, azureStatus) = await RecalculateAsync(azure.AsHost(), options);
        var (localResult, _) = await RecalculateAsync(HostUnderTest.Local(local), options);

        Assert.Equal(new RecalculateAllSummariesResult(9, 8, 3), azureResult);
        Assert.Equal(localResult, azureResult);
        Assert.Equal(nameof(RecalculateAllSummariesOrchestrator), azureStatus.Name);
        Assert.True(azure.Functions.ExecutionsOf(RecalculateAllSummariesOrchestrator.InstanceId) > 7,
            $"executions: {azure.Functions.ExecutionsOf(RecalculateAllSummariesOrchestrator.InstanceId)} for 7 pages");

        // Nothing consumes or relays topic_message in the Azure host under test: the outbox holds exactly one
        // summary-calculation message per entity, for the relay to send to Event Hubs.
        await using (var conn = await azure.Database.DataSource.OpenConnectionAsync())
        {
            var queued = (await conn.QueryAsync<(string Key, string Reason)>(
                "select message_key, payload->>'reason' from topic_message where topic = @topic", new { topic = Topics.SummaryCalculation })).ToList();
            Assert.Equal(onAzure.Order(StringComparer.Ordinal), queued.Select(q => q.Key).Order(StringComparer.Ordinal));
            Assert.All(queued, q => Assert.Equal("full_recalculation", q.Reason));
        }

        // Locally the same messages are consumed at once: every entity's summary gets computed.
        await using (var conn = await local.Database.DataSource.OpenConnectionAsync())
        {
            await Eventually.Until(async () => await conn.QuerySingleAsync<int>("""
                select (select count(*) from account_summary) + (select count(*) from contact_summary) + (select count(*) from lead_summary)
                """) == onLocal.Count, TimeSpan.FromSeconds(90), "the local consumers computed every summary");
        }
    }

    /// <summary>The seeded entities as summary-calculation keys ("account:{id}", ...).</summary>
    static async Task<List<string>> SeedAsync(NpgsqlDataSource db)
    {
        var history = new SummaryHistory(db);
        var keys = new List<string>();
        for (var i = 0; i < 9; i++) keys.Add($"{SummaryRecalculation.Account}:{await history.AccountAsync(ConversionData.Company())}");
        for (var i = 0; i < 8; i++) keys.Add($"{SummaryRecalculation.Contact}:{await history.ContactAsync(null)}");
        for (var i = 0; i < 3; i++) keys.Add($"{SummaryRecalculation.Lead}:{await history.LeadAsync()}");
        return keys;
    }

    /// <summary>What the admin route and the timer start, run to its end.</summary>
    static async Task<(RecalculateAllSummariesResult Result, OrchestrationStatus Status)> RecalculateAsync(HostUnderTest host, SummariesOptions options)
    {
        using var scope = host.ClientScope();
        var id = await FullSummaryRecalculation.StartAsync(host.Orchestrations, options);
        var status = await host.Orchestrations.WaitForCompletionAsync(id, TimeSpan.FromSeconds(120));
        Assert.True(status.RuntimeStatus == OrchestrationRuntimeStatus.Completed, $"{status.RuntimeStatus}: {status.FailureDetails}");
        return (status.ReadOutputAs<RecalculateAllSummariesResult>()!, status);
    }
}
