using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Cdp.Shared.Access;

public static class AccessExtensions
{
    /// <summary>Callers, sessions, API keys, staff and the audit trail. Expects an NpgsqlDataSource and a TimeProvider.</summary>
    public static IServiceCollection AddAccess(this IServiceCollection services)
    {
        services.AddOptions<AccessOptions>().BindConfiguration(AccessOptions.Section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AccessOptions>, ValidateAccessOptions>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<SessionTokens>();
        services.TryAddSingleton<ApiKeys>();
        services.TryAddSingleton<StaffDirectory>();
        services.TryAddSingleton<AuditLog>();
        services.TryAddSingleton<Authenticate>();
        services.TryAddSingleton<CustomerScope>();
        return services;
    }
}

sealed class ValidateAccessOptions : IValidateOptions<AccessOptions>
{
    public ValidateOptionsResult Validate(string? name, AccessOptions options) =>
        options.Validate().ToList() is { Count: > 0 } errors ? ValidateOptionsResult.Fail(errors) : ValidateOptionsResult.Success;
}
