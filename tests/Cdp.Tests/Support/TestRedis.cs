using Cdp.Shared.Customers;
using Cdp.Shared.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Cdp.Tests.Support;

/// <summary>The Redis the test run started (./cdp test), for tests that build core classes without a host.</summary>
public static class TestRedis
{
    public static string Address => LocalServers.Redis;

    /// <summary>A connection, already connected (the first use of a fresh one would otherwise skip Redis).</summary>
    public static RedisConnection Connect(string? address = null)
    {
        var redis = new RedisConnection(new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:Redis"] = address ?? Address })
            .Build());
        _ = redis.Database;
        return redis;
    }

    public static CustomerViewCache ViewCache(RedisConnection? connection = null) =>
        new(connection ?? Connect(), Options.Create(new CustomerViewOptions()), NullLogger<CustomerViewCache>.Instance);
}
