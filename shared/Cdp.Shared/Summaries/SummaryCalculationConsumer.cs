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
/// dirty flag, so it is never lost and never computed twice at once.
/// </summary>
public sealed class SummaryCalculationConsumer(
    SummaryCalculator calculator, SummaryLock summaryLock, CustomerViewCache views, ILogger<SummaryCalculationConsumer> logger,
    OpsRecorder? ops = null)
    : ICoalescingTopicHandler
{
    public string Topic => Topics.SummaryCalculation;

    /// <summary>Runs around every computation; tests count concurrent computations and write data in between.</summary>
    internal Func<SummaryRecalculation, CancellationToken, Task>? DuringComputation { get; set; }

    public Task HandleAsync(TopicMessage message, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(message);
        SummaryRecalculation request;
        try
        {
            request = message.Read<SummaryRecalculation>();
        }
        catch (JsonException e)
        {
            // Unreadable stays unreadable: retrying would only delay the dead letter.
            logger.LogError(e, "Summary message {MessageId} is not {{entityType, entityId, reason}}; dropped", message.MessageId);
            return Task.CompletedTask;
        }
        return RecalculateAndMeasureAsync(request, message.CreatedAt, ct);
    }

    /// <summary>Publication to handled: the summary-lag instrument and the per-minute rollup (the overview's p50/p99).</summary>
    async Task RecalculateAndMeasureAsync(SummaryRecalculation request, DateTimeOffset publishedAt, CancellationToken ct)
    {
        await RecalculateAsync(request, ct);
        var lag = TimeSpan.FromTicks(Math.Max(0, (DateTimeOffset.UtcNow - publishedAt).Ticks));
        CdpTelemetry.SummaryLag.Record(lag.TotalSeconds, new KeyValuePair<string, object?>("entity_type", request.EntityType));
        ops?.Record(OpsMetrics.SummaryLag, "", lag.TotalMilliseconds);
    }

    public async Task RecalculateAsync(SummaryRecalculation request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!SummaryRecalculation.EntityTypes.Contains(request.EntityType))
        {
            logger.LogError("Summary requested for unknown entity type {EntityType}; dropped", request.EntityType);
            return;
        }

        var ran = await summaryLock.RunAsync(request.EntityType, request.EntityId, async token =>
        {
            using var span = CdpTelemetry.Start("summary calculate");
            span?.SetTag("cdp.entity_type", request.EntityType);
            if (DuringComputation is { } hook) await hook(request, token);
            if (await calculator.CalculateAsync(request.EntityType, request.EntityId, token))
                await views.InvalidateAsync(new CustomerRef(request.EntityType, request.EntityId));
            else
                logger.LogInformation("No {EntityType} {EntityId} to summarise (deleted?)", request.EntityType, request.EntityId);
        }, ct);
        if (!ran)
            logger.LogDebug("{EntityType} {EntityId} is being summarised elsewhere; flagged for another pass", request.EntityType, request.EntityId);
    }
}
