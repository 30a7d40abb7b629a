using Cdp.Shared.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Cdp.Shared.Customers;

public static class CustomersExtensions
{
    /// <summary>The customer views, their cache and the reveal of masked fields. Expects an NpgsqlDataSource and the events' BehaviourQueries.</summary>
    public static IServiceCollection AddCustomerViews(this IServiceCollection services)
    {
        services.AddCustomerViewCache();
        services.TryAddSingleton<AccountReads>();
        services.TryAddSingleton<ContactReads>();
        services.TryAddSingleton<LeadReads>();
        services.TryAddSingleton<CustomerViews>();
        services.TryAddSingleton<RevealPiiField>();
        return services;
    }

    /// <summary>The views' cache alone: what every writer that changes a view needs, to delete it.</summary>
    public static IServiceCollection AddCustomerViewCache(this IServiceCollection services)
    {
        services.AddOptions<CustomerViewOptions>().BindConfiguration(CustomerViewOptions.Section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CustomerViewOptions>, ValidateCustomerViewOptions>());
        services.AddLogging();
        services.TryAddSingleton<RedisConnection>();
        services.TryAddSingleton<CustomerViewCache>();
        return services;
    }
}

sealed class ValidateCustomerViewOptions : IValidateOptions<CustomerViewOptions>
{
    public ValidateOptionsResult Validate(string? name, CustomerViewOptions options) =>
        options.Errors().ToList() is { Count: > 0 } errors ? ValidateOptionsResult.Fail(errors) : ValidateOptionsResult.Success;
}
