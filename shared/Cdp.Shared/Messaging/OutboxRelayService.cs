using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cdp.Shared.Messaging;

/// <summary>
/// "Something committed to the outbox": raised in process once a unit of work has committed (on Azure, after every
/// function invocation), so the relay sends at once instead of at the next sweep. Signals coalesce.
/// </summary>
public sealed class OutboxSignal : IDisposable
{
    readonly SemaphoreSlim pending = new(0, 1);

    public void Notify()
    {
        try { if (pending.CurrentCount == 0) pending.Release(); }
        catch (SemaphoreFullException) { } // a signal is already waiting: one round covers both
    }

    /// <summary>True when signalled, false when <paramref name="timeout"/> ran out first.</summary>
    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken ct) => pending.WaitAsync(timeout, ct);

    public void Dispose() => pending.Dispose();
}

/// <summary>Runs <see cref="OutboxRelay"/>: on every signal, at every sweep interval, and again at once while rounds come back full.</summary>
public sealed class OutboxRelayService(OutboxRelay relay, OutboxSignal signal, IOptions<OutboxRelayOptions> options, ILogger<OutboxRelayService> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            TimeSpan wait;
            try
            {
                var result = await relay.RelayOnceAsync(stoppingToken);
                failures = result.Failed ? failures + 1 : 0;
                wait = result.Failed
                    ? RetryBackoff.Delay(failures, TimeSpan.FromMilliseconds(200), options.Value.SweepInterval, Random.Shared.NextDouble())
                    : result.Read >= options.Value.BatchSize ? TimeSpan.Zero : options.Value.SweepInterval;
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                failures++;
                wait = RetryBackoff.Delay(failures, TimeSpan.FromMilliseconds(200), options.Value.SweepInterval, Random.Shared.NextDouble());
                logger.LogError(e, "Outbox relay round failed ({Failures} in a row)", failures);
            }
            if (wait == TimeSpan.Zero) continue;
            try
            {
                // After a failure only the backoff counts: a signal must not turn a broker outage into a hot loop.
                if (failures > 0) await Task.Delay(wait, stoppingToken);
                else await signal.WaitAsync(wait, stoppingToken);
            }
            catch (OperationCanceledException) { }
        }
    }
}

public static class OutboxRelayRegistration
{
    /// <summary>
    /// The relay from topic_message to a broker (options <c>Outbox</c>). The host registers the <see cref="IOutboxSink"/>.
    /// Only for hosts whose consumers read the broker: a host that consumes topic_message itself must not relay it away.
    /// </summary>
    public static IServiceCollection AddOutboxRelay(this IServiceCollection services)
    {
        services.AddOptions<OutboxRelayOptions>().BindConfiguration(OutboxRelayOptions.Section)
            .Validate(o => o.BatchSize >= 1 && o.SweepInterval > TimeSpan.Zero, "Outbox:BatchSize must be >= 1 and Outbox:SweepInterval positive.")
            .ValidateOnStart();
        services.TryAddSingleton<OutboxSignal>();
        services.TryAddSingleton<OutboxRelay>();
        services.AddHostedService<OutboxRelayService>();
        return services;
    }
}
