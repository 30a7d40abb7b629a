using Cdp.Shared.Customers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Cdp.Shared.Conversion;

/// <summary>Bound from the <c>Conversion</c> section.</summary>
public sealed class ConversionOptions
{
    public const string Section = "Conversion";

    /// <summary>How long the convert endpoint waits for the orchestration before answering 202 with its status URL.</summary>
    public TimeSpan WaitTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Opportunity stages beyond the defaults (<see cref="OpportunityStages.Defaults"/>: the product's own and
    /// Salesforce's standard ones), or a default moved: <c>Conversion:StageMap:&lt;stage&gt;</c> = open|won|lost.
    /// </summary>
    public Dictionary<string, string> StageMap { get; set; } = [];
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
            .Validate(o => o.StageMap.All(s => s.Key.Trim().Length > 0 && OpportunityStages.ParseOutcome(s.Value) is not null),
                "Every Conversion:StageMap:<stage> must be open, won or lost.")
            .ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new OpportunityStages(sp.GetRequiredService<IOptions<ConversionOptions>>().Value.StageMap));
        services.TryAddSingleton<LeadConversion>();
        return services;
    }
}
