using Cdp.Shared.Customers;
using Cdp.Shared.Messaging;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Cdp.Shared.Summaries;

public sealed class SummariesOptions
{
    public const string Section = "Summaries";

    /// <summary>How often the local host's timer starts the full recalculation.</summary>
    public TimeSpan FullRecalculationInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Entities per activity of the full recalculation.</summary>
    public int BatchSize { get; set; } = 500;
}

public static class SummariesExtensions
{
    /// <summary>
    /// The summary computation (calculator, Redis lock) and <see cref="SummariesOptions"/>; with
    /// <paramref name="consume"/> also the summary-calculation consumer. Expects an NpgsqlDataSource and a RedisConnection.
    /// </summary>
    public static IServiceCollection AddSummaries(this IServiceCollection services, bool consume)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddCustomerViewCache();   // its writes delete the cached customer views they change
        services.AddOptions<SummariesOptions>()
            .BindConfiguration(SummariesOptions.Section)
            .Validate(o => o.FullRecalculationInterval > TimeSpan.Zero, "Summaries:FullRecalculationInterval must be positive.")
            .Validate(o => o.BatchSize is >= 1 and <= 10_000, "Summaries:BatchSize must be between 1 and 10000.")
            .ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<SummaryCalculator>();
        services.TryAddSingleton<SummaryLock>();
        services.TryAddSingleton<SummaryCalculationConsumer>();
        services.TryAddSingleton<SummaryBatches>();
        if (consume) services.AddTopicConsumer<SummaryCalculationConsumer>();
        return services;
    }
}
