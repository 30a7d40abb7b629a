using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Cdp.Shared.Privacy;

public static class PrivacyExtensions
{
    /// <summary>Retention (validated on start), the subject hash, export and erasure. Expects the stores (Postgres, Redis, ClickHouse).</summary>
    public static IServiceCollection AddPrivacy(this IServiceCollection services)
    {
        services.AddOptions<RetentionOptions>().BindConfiguration(RetentionOptions.Section)
            .Validate(o => !o.Errors().Any(), "Invalid Retention options (RawPayloadDays and ResolvedReviewDays 0-3650, EventDays 1-36500)")
            .ValidateOnStart();
        services.TryAddSingleton<SubjectHash>();
        services.TryAddSingleton<ApplyRetention>();
        services.TryAddSingleton<ExportSubject>();
        services.TryAddSingleton<EraseSubject>();
        return services;
    }
}
