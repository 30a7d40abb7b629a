using Cdp.Shared.Customers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Cdp.Shared.Identity;

public static class IdentityExtensions
{
    /// <summary>
    /// Identity resolution and its review queue, with <see cref="IdentityOptions"/> from the <c>Identity</c>
    /// section (validated on start). Expects an <c>NpgsqlDataSource</c> registered by the host.
    /// </summary>
    public static IServiceCollection AddIdentity(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddCustomerViewCache();   // its writes delete the cached customer views they change
        services.AddOptions<IdentityOptions>()
            .BindConfiguration(IdentityOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.TryAddSingleton<IdentityResolver>();
        services.TryAddSingleton<IdentityReviews>();
        return services;
    }
}
