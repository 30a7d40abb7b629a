using Cdp.Shared.Customers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Cdp.Shared.Conversion;

/// <summary>Bound from the <c>Conversion</c> section.</summary>
public sealed class ConversionOptions
{
    public const string Section = "Conversion";

    /// <summary>How long the convert endpoint waits for the orchestration before answering 202 with its status URL.</summary>
    public TimeSpan WaitTimeout { get; set; } = TimeSpan.FromSeconds(5);
}

public static class ConversionExtensions
{
    /// <summary>
    /// Lead conversion's core and <see cref="ConversionOptions"/> (validated on start). The orchestration that runs it
    /// is registered by the orchestrations project (<c>AddLeadConversion</c>). Expects identity and an
    /// <c>NpgsqlDataSource</c>.
    /// </summary>
    public static IServiceCollection AddConversion(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddCustomerViewCache();   // its writes delete the cached customer views they change
        services.AddOptions<ConversionOptions>()
            .BindConfiguration(ConversionOptions.Section)
            .Validate(o => o.WaitTimeout >= TimeSpan.Zero && o.WaitTimeout <= TimeSpan.FromMinutes(1), "Conversion:WaitTimeout must be between 0 and 1 minute.")
            .ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<LeadConversion>();
        return services;
    }
}
