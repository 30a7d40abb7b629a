using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace Cdp.Shared.Storage;

/// <summary>
/// One lazily opened multiplexer for the process. abortConnect=false lets the platform start and answer while Redis
/// is down.
/// </summary>
public sealed class RedisConnection(IConfiguration config) : IDisposable
{
    readonly Lazy<ConnectionMultiplexer> multiplexer = new(() =>
    {
        var options = ConfigurationOptions.Parse(config.GetConnectionString("Redis") ?? "127.0.0.1:6379");
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = 2000;
        options.SyncTimeout = 1000;
        return ConnectionMultiplexer.Connect(options);
    });

    public IDatabase Database => multiplexer.Value.GetDatabase();

    int connecting;

    /// <summary>
    /// False while there is no live connection, so callers with a fallback skip Redis at once. Never blocks: the first
    /// call starts connecting in the background (Connect is synchronous, and a burst of first requests each waiting on
    /// it starves the thread pool that must complete it).
    /// </summary>
    public bool IsConnected
    {
        get
        {
            if (multiplexer.IsValueCreated) return multiplexer.Value.IsConnected;
            if (Interlocked.Exchange(ref connecting, 1) == 0) _ = Task.Run(() => multiplexer.Value);
            return false;
        }
    }

    public void Dispose()
    {
        if (multiplexer.IsValueCreated) multiplexer.Value.Dispose();
    }
}

/// <summary>Starts connecting when the host starts, so the first requests find Redis connected rather than skip it.</summary>
sealed class ConnectRedisOnStart(RedisConnection redis) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ = redis.IsConnected;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
