using Cdp.Shared.Messaging;
using Cdp.Shared.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Cdp.Shared.Events;

public static class EventsRegistration
{
    /// <summary>Behaviour events: the accept path, the ClickHouse writer (when this host consumes) and the queries.</summary>
    public static IHostApplicationBuilder AddEvents(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<EventsOptions>().BindConfiguration(EventsOptions.Section)
            .BindConfiguration("ClickHouse")   // ClickHouse:Database
            .Validate(o => { o.Validate(); return true; }).ValidateOnStart();
        // No AddOutboundResilience here on purpose: a failed insert is retried by the writer's topic backoff (a 3 s
        // attempt timeout would cut off large inserts that then land twice), and reads already degrade to partial.
        services.AddHttpClient<ClickHouseHttp>(http => http.Timeout = TimeSpan.FromSeconds(30));
        services.AddSingleton<AcceptEvents>();
        services.TryAddSingleton<RedisConnection>();
        services.AddSingleton<LimitEventRate>();
        services.TryAddSingleton<EventStreamWriter>();
        services.AddSingleton<BehaviourQueries>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<TopicConsumerOptions>, BindTopicConsumerOptions>(
            sp => new BindTopicConsumerOptions(sp.GetService<IConfiguration>())));
        if (builder.Configuration.GetValue("Topics:ConsumersEnabled", true))
            services.AddHostedService<WriteEventsToClickHouse>();
        return builder;
    }
}
