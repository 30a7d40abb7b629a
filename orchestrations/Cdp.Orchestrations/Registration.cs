using Cdp.Orchestrations.Engine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Cdp.Orchestrations;

/// <summary>An orchestrator or activity known by name (the class name, so callers use <c>nameof</c>).</summary>
public sealed record OrchestrationRegistration(string Name, Type Type, bool IsActivity);

/// <summary>Name → type lookup over every <see cref="OrchestrationRegistration"/>.</summary>
public sealed class OrchestrationRegistry(IEnumerable<OrchestrationRegistration> registrations)
{
    readonly Dictionary<string, Type> orchestrators = registrations.Where(r => !r.IsActivity).GroupBy(r => r.Name).ToDictionary(g => g.Key, g => g.Last().Type);
    readonly Dictionary<string, Type> activities = registrations.Where(r => r.IsActivity).GroupBy(r => r.Name).ToDictionary(g => g.Key, g => g.Last().Type);

    public Type? Orchestrator(string name) => orchestrators.GetValueOrDefault(name);
    public Type? Activity(string name) => activities.GetValueOrDefault(name);
}

public static class OrchestrationRegistrationExtensions
{
    /// <summary>Registers orchestrator <typeparamref name="T"/> under <c>nameof(T)</c>; resolved (with its dependencies) per episode.</summary>
    public static IServiceCollection AddOrchestrator<T>(this IServiceCollection services) where T : class, IOrchestrator
    {
        services.TryAddTransient<T>();
        services.AddSingleton(new OrchestrationRegistration(typeof(T).Name, typeof(T), IsActivity: false));
        return services;
    }

    /// <summary>Registers activity <typeparamref name="T"/> under <c>nameof(T)</c>; resolved in a scope per execution.</summary>
    public static IServiceCollection AddActivity<T>(this IServiceCollection services) where T : class, IActivity
    {
        services.TryAddTransient<T>();
        services.AddSingleton(new OrchestrationRegistration(typeof(T).Name, typeof(T), IsActivity: true));
        return services;
    }

    /// <summary>
    /// The Postgres engine: <see cref="IOrchestrationClient"/> plus a hosted <see cref="OrchestrationWorker"/>, options
    /// from the <c>Orchestrations</c> section. Needs an <c>NpgsqlDataSource</c> registered elsewhere.
    /// </summary>
    public static IServiceCollection AddLocalOrchestrations(this IServiceCollection services)
    {
        services.AddOptions<OrchestrationOptions>()
            .BindConfiguration(OrchestrationOptions.Section)
            .Validate(o => !o.Errors().Any(), "Invalid Orchestrations options (LeaseDuration >= 300 ms, PollInterval > 0, Concurrency >= 1)")
            .ValidateOnStart();
        services.TryAddSingleton<OrchestrationRegistry>();
        services.TryAddSingleton<OrchestrationSignal>();
        services.TryAddSingleton<IOrchestrationClient, LocalOrchestrationClient>();
        services.AddSingleton<IHostedService, OrchestrationWorker>(sp => ActivatorUtilities.CreateInstance<OrchestrationWorker>(sp));
        return services;
    }
}
