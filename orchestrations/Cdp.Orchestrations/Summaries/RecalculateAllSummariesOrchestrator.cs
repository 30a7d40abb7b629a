using Cdp.Shared.Summaries;
using Microsoft.Extensions.DependencyInjection;

namespace Cdp.Orchestrations.Summaries;

/// <summary>The full recalculation's input: entities per page.</summary>
public sealed record RecalculateAllSummaries(int BatchSize);

/// <summary>What was queued, per entity type.</summary>
public sealed record RecalculateAllSummariesResult(int Accounts, int Contacts, int Leads);

/// <summary>
/// The full summary recalculation (the timer's and <c>POST /api/admin/summaries/recalculate</c>'s): pages through all
/// accounts, contacts and leads, each page one activity that queues a summary-calculation message per entity. The
/// fan-out is the topic: its consumers, on every host, compute the summaries in parallel under the per-entity locks.
/// Always started as <see cref="InstanceId"/>, so a second start while one runs is a no-op.
/// </summary>
public sealed class RecalculateAllSummariesOrchestrator : Orchestrator<RecalculateAllSummaries, RecalculateAllSummariesResult>
{
    public const string InstanceId = "summaries-full-recalculation";

    public static readonly RetryPolicy Retry = new(5, TimeSpan.FromSeconds(1), BackoffCoefficient: 2, MaxRetryInterval: TimeSpan.FromSeconds(30));

    public override async Task<RecalculateAllSummariesResult> RunAsync(IOrchestrationContext context, RecalculateAllSummaries input)
    {
        ArgumentNullException.ThrowIfNull(context);
        var size = input?.BatchSize is > 0 ? input.BatchSize : 500;
        var counts = new Dictionary<string, int>();
        foreach (var type in SummaryRecalculation.EntityTypes)
        {
            Guid? after = null;
            var total = 0;
            while (true)
            {
                var page = await context.CallActivityAsync<SummaryBatchResult>(nameof(QueueSummaryBatchActivity), new SummaryBatch(type, after, size), Retry);
                total += page.Queued;
                after = page.LastId;
                context.SetCustomStatus(new { entityType = type, queued = total });
                if (page.Queued < size) break;
            }
            counts[type] = total;
        }
        return new RecalculateAllSummariesResult(
            counts[SummaryRecalculation.Account], counts[SummaryRecalculation.Contact], counts[SummaryRecalculation.Lead]);
    }
}

/// <summary>Queues one page of summary recalculations (idempotent enough: a repeat only recomputes again).</summary>
public sealed class QueueSummaryBatchActivity(SummaryBatches batches) : Activity<SummaryBatch, SummaryBatchResult>
{
    public override Task<SummaryBatchResult> RunAsync(SummaryBatch input, CancellationToken cancellationToken) =>
        batches.QueueAsync(input, cancellationToken);
}

public static class SummaryOrchestrationExtensions
{
    /// <summary>The full recalculation's orchestrator and activity (the summaries core is registered by the platform).</summary>
    public static IServiceCollection AddSummaryRecalculation(this IServiceCollection services) =>
        services.AddOrchestrator<RecalculateAllSummariesOrchestrator>().AddActivity<QueueSummaryBatchActivity>();
}
