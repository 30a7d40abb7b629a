using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Cdp.Shared.Messaging;

public static class TopicRegistration
{
    /// <summary>
    /// Registers <typeparamref name="THandler"/> (singleton) and a hosted <see cref="TopicConsumer"/> feeding it, with
    /// options from <c>Topics:Default</c> overlaid by <c>Topics:{topic}</c>. Needs an <see cref="NpgsqlDataSource"/>.
    /// </summary>
    public static IServiceCollection AddTopicConsumer<THandler>(this IServiceCollection services) where THandler : class, ITopicHandler
    {
        services.TryAddSingleton<THandler>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<TopicConsumerOptions>, BindTopicConsumerOptions>(
            sp => new BindTopicConsumerOptions(sp.GetService<IConfiguration>())));
        // Not AddHostedService: it de-duplicates by implementation type, and every consumer is a TopicConsumer.
        services.AddSingleton<IHostedService>(sp =>
        {
            var handler = sp.GetRequiredService<THandler>();
            var options = sp.GetRequiredService<IOptionsMonitor<TopicConsumerOptions>>().Get(handler.Topic);
            return new TopicConsumer(handler, sp.GetRequiredService<NpgsqlDataSource>(), options, sp.GetRequiredService<ILogger<TopicConsumer>>());
        });
        return services;
    }
}
