using Cdp.Functions.Durable;
using Cdp.Orchestrations;
using Cdp.Orchestrations.Summaries;
using Cdp.Shared.Messaging;
using Cdp.Shared.Operations.Alerts;
using Cdp.Shared.Summaries;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cdp.Functions.Timers;

/// <summary>
/// The local host's hosted-service timers as timer triggers, named like them. Schedules are six-field NCRONTAB in UTC
/// (Flex Consumption); Summaries:FullRecalculationInterval and Housekeeping:Interval only drive the local timers.
/// </summary>
public sealed class TimerFunctions(
    DurableClientScope durable, IOrchestrationClient orchestrations, Housekeeping housekeeping, IOptions<SummariesOptions> summaries,
    ILogger<TimerFunctions> logger)
{
    [Function("SummaryRecalculationTimer")]
    public async Task RunSummaryRecalculation([TimerTrigger("0 0 * * * *")] TimerInfo timer, [DurableClient] DurableTaskClient client)
    {
        using var scope = durable.Use(client);
        var id = await FullSummaryRecalculation.StartAsync(orchestrations, summaries.Value);
        logger.LogInformation("Full summary recalculation started ({InstanceId})", id);
    }

    [Function("HousekeepingTimer")]
    public async Task RunHousekeeping([TimerTrigger("0 30 * * * *")] TimerInfo timer, [DurableClient] DurableTaskClient client)
    {
        using var scope = durable.Use(client);
        await housekeeping.RunAsync();
    }
}

/// <summary>
/// Azure only (the local host reads topic_message directly): the outbox relay's sweep as a timer trigger, because an
/// instance scaled to zero runs no background loop; rows a crashed instance committed but never relayed go out here.
/// </summary>
public sealed class OutboxSweepFunction(OutboxRelay relay, IOptions<OutboxRelayOptions> options)
{
    [Function("OutboxSweep")]
    public async Task Sweep([TimerTrigger("*/30 * * * * *")] TimerInfo timer, CancellationToken cancellationToken)
    {
        OutboxRelayResult round;
        do round = await relay.RelayOnceAsync(cancellationToken);
        while (!round.Failed && round.Read >= options.Value.BatchSize);
    }
}

/// <summary>
/// The local host's AlertTimer as a timer trigger: evaluates the alert rules every 30 s (Alerts:Enabled still applies);
/// the evaluation lock lets one instance act per turn however many run.
/// </summary>
public sealed class AlertTimerFunction(AlertEvaluator evaluator, IOptions<AlertOptions> options)
{
    [Function(nameof(AlertTimer))]
    public async Task Run([TimerTrigger("*/30 * * * * *")] TimerInfo timer, CancellationToken cancellationToken)
    {
        if (options.Value.Enabled) await evaluator.EvaluateAsync(cancellationToken);
    }
}
