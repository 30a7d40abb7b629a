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
public sealed class OutboxSignal
{
    /// <summary>What the relay's loop wakes on.</summary>
    public WorkSignal Work { get; } = new();

    public void Notify() => Work.Pulse();
}

/// <summary>Runs <see cref="OutboxRelay"/>: on every signal, at every sweep interval, and again at once while rounds come back full.</summary>
public sealed class OutboxRelayService(OutboxRelay relay, OutboxSignal signal, IOptions<OutboxRelayOptions> options, ILogger<OutboxRelayService> logger)
    : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        var loop = new LeasedWorkLoop("Outbox relay", o.SweepInterval, logger)
        {
            Wake = signal.Work,
            FirstBackoff = TimeSpan.FromMilliseconds(200),
            MaxBackoff = o.SweepInterval,
        };
        return loop.RunAsync(async ct =>
        {
            var result = await relay.RelayOnceAsync(ct);
            // The relay logged what stayed behind; a failed round makes the loop back off, and no signal cuts that
            // short: a broker outage must not become a hot loop.
            if (result.Failed)
                throw new InvalidOperationException($"{result.Read - result.Relayed} of {result.Read} outbox message(s) not relayed");
            return result.Read >= o.BatchSize ? result.Read : 0;
        }, stoppingToken);
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
