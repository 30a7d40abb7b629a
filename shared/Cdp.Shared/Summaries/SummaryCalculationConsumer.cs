using System.Runtime.ExceptionServices;
using System.Text.Json;
using Cdp.Shared.Customers;
using Cdp.Shared.Messaging;
using Cdp.Shared.Telemetry;
using Cdp.Shared.Operations.Overview;
using Microsoft.Extensions.Logging;

namespace Cdp.Shared.Summaries;

/// <summary>
/// Consumes summary-calculation (<c>{"entityType","entityId","reason"}</c>): recomputes that entity's summary under its
/// Redis lock (<see cref="SummaryLock"/>). A trigger that finds the lock held is handed to the holder through the
/// dirty flag, so it is never lost and never computed twice at once. A claimed round (one message per key) is computed
/// together: one transaction, one statement per aggregate for all its entities (<see cref="SummaryCalculator.CalculateManyAsync"/>).
/// </summary>
public sealed class SummaryCalculationConsumer(
    SummaryCalculator calculator, SummaryLock summaryLock, CustomerViewCache views, ILogger<SummaryCalculationConsumer> logger,
    OpsRecorder? ops = null)
    : ICoalescingTopicHandler, ITopicKeyedBatchHandler
{
    public string Topic => Topics.SummaryCalculation;

    /// <summary>Runs around every computation (once per entity); tests count concurrent computations and write data in between.</summary>
    internal Func<SummaryRecalculation, CancellationToken, Task>? DuringComputation { get; set; }

    public async Task HandleAsync(TopicMessage message, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(message);
        if ((await HandleBatchAsync([message], ct))[0] is { } error) ExceptionDispatchInfo.Throw(error);
    }

    public async Task<IReadOnlyList<Exception?>> HandleBatchAsync(IReadOnlyList<TopicMessage> batch, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var errors = new Exception?[batch.Count];
        var requests = new List<(SummaryRecalculation Request, DateTimeOffset PublishedAt)>(batch.Count);
        foreach (var message in batch)
        {
            try
            {
                requests.Add((message.Read<SummaryRecalculation>(), message.CreatedAt));
            }
            catch (JsonException e)
            {
                // Unreadable stays unreadable: retrying would only delay the dead letter.
                logger.LogError(e, "Summary message {MessageId} is not {{entityType, entityId, reason}}; dropped", message.MessageId);
            }
        }
        try
        {
            await RecalculateManyAsync([.. requests.Select(r => r.Request)], ct);
        }
        catch (Exception e)
        {
            // One transaction for the round: every message of it is retried.
            for (var i = 0; i < batch.Count; i++) errors[i] = e;
            return errors;
        }

        // Publication to handled: the summary-lag instrument and the per-minute rollup (the overview's p50/p99).
        var handled = DateTimeOffset.UtcNow;
        foreach (var (request, publishedAt) in requests)
        {
            var lag = TimeSpan.FromTicks(Math.Max(0, (handled - publishedAt).Ticks));
            CdpTelemetry.SummaryLag.Record(lag.TotalSeconds, new KeyValuePair<string, object?>("entity_type", request.EntityType));
            ops?.Record(OpsMetrics.SummaryLag, "", lag.TotalMilliseconds);
        }
        return errors;
    }

    public Task RecalculateAsync(SummaryRecalculation request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        return RecalculateManyAsync([request], ct);
    }

    /// <summary>Recomputes the requested entities (repeats and unknown types dropped) under their locks, in one transaction per pass.</summary>
    public async Task RecalculateManyAsync(IReadOnlyList<SummaryRecalculation> requests, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(requests);
        var byEntity = new Dictionary<SummaryEntity, SummaryRecalculation>();
        foreach (var request in requests)
        {
            if (!SummaryRecalculation.EntityTypes.Contains(request.EntityType))
                logger.LogError("Summary requested for unknown entity type {EntityType}; dropped", request.EntityType);
            else
                byEntity.TryAdd(new SummaryEntity(request.EntityType, request.EntityId), request);
        }
        if (byEntity.Count == 0) return;

        var handedOff = await summaryLock.RunManyAsync([.. byEntity.Keys], async (entities, token) =>
        {
            using var span = CdpTelemetry.Start("summary calculate");
            span?.SetTag("cdp.entity_type", entities[0].EntityType);
            span?.SetTag("cdp.summary.entities", entities.Count);
            if (DuringComputation is { } hook)
                foreach (var entity in entities) await hook(byEntity[entity], token);
            var found = await calculator.CalculateManyAsync(entities, token);
            await views.InvalidateAsync(found.Select(e => new CustomerRef(e.EntityType, e.Id)));
            foreach (var missing in entities.Where(e => !found.Contains(e)))
                logger.LogInformation("No {EntityType} {EntityId} to summarise (deleted?)", missing.EntityType, missing.Id);
        }, ct);
        foreach (var entity in handedOff)
            logger.LogDebug("{EntityType} {EntityId} is being summarised elsewhere; flagged for another pass", entity.EntityType, entity.Id);
    }
}
