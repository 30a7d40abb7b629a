using System.Net;
using System.Net.Sockets;
using Cdp.Shared.Access;
using Cdp.Shared.Api;
using Cdp.Shared.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Cdp.Shared.Events;

/// <summary>One counter as Redis left it: how many requests its window has seen, and when the window ends.</summary>
public readonly record struct WindowCount(string Scope, long Count, int Limit, TimeSpan ResetsIn);

/// <summary>
/// The website SDK's request rate on POST /api/events, per publishable key and per client address, counted in Redis so
/// every process of every host shares the counts. Fixed windows (<see cref="EventsOptions.RateLimitWindow"/>) that
/// start at a counter's first request and end with its key's expiry, so no clock but Redis's matters. Server API keys,
/// staff and the bootstrap admin are trusted machines and people: not limited.
/// Redis down or slow: the request passes (logged at most every 10 s). Events are worth more than the limit, and the
/// limit is against floods, not a quota anyone is billed by.
/// </summary>
public sealed class LimitEventRate(RedisConnection redis, IOptions<EventsOptions> options, ILogger<LimitEventRate> logger)
{
    // One key per call: in a Redis cluster the two counters of a request may live on different slots.
    const string CountScript = """
        local n = redis.call('incr', KEYS[1])
        local ttl = redis.call('pttl', KEYS[1])
        if ttl < 0 then
            redis.call('pexpire', KEYS[1], ARGV[1])
            ttl = tonumber(ARGV[1])
        end
        return {n, ttl}
        """;

    static readonly TimeSpan RedisBudget = TimeSpan.FromMilliseconds(500);

    long lastWarning = long.MinValue / 2;

    /// <summary>Counts the request; 429 with Retry-After when the key or the address has used up its window.</summary>
    public async Task AdmitAsync(Caller caller, IPAddress? client)
    {
        if (caller.Kind != CallerKind.PublishableKey) return;
        var settings = options.Value;
        var counters = new List<(string Scope, RedisKey Key, int Limit)>(2);
        if (settings.RateLimitPerKey > 0) counters.Add(("key", $"events:rate:{caller.Actor}", settings.RateLimitPerKey));
        if (settings.RateLimitPerIp > 0 && AddressBucket(client) is { } bucket) counters.Add(("address", $"events:rate:ip:{bucket}", settings.RateLimitPerIp));
        if (counters.Count == 0) return;

        if (!redis.IsConnected)
        {
            Warn(null);
            return;
        }
        WindowCount[] counts;
        try
        {
            var db = redis.Database;
            var window = (long)settings.RateLimitWindow.TotalMilliseconds;
            counts = await Task.WhenAll(counters.Select(async c =>
            {
                var result = (RedisResult[])(await db.ScriptEvaluateAsync(CountScript, [c.Key], [window]))!;
                return new WindowCount(c.Scope, (long)result[0], c.Limit, TimeSpan.FromMilliseconds((long)result[1]));
            })).WaitAsync(RedisBudget);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            Warn(e);
            return;
        }
        if (Exceeded(counts) is { } over)
            throw new ApiProblemException(ApiProblem.TooManyRequests(over.ResetsIn,
                $"More than {over.Limit} event requests per {settings.RateLimitWindow.TotalSeconds:0} s from this {over.Scope}; retry after the window."));
    }

    /// <summary>The counter that refuses the request (the one that frees up last), or null when every one is within its limit.</summary>
    public static WindowCount? Exceeded(IEnumerable<WindowCount> counts) =>
        counts.Where(c => c.Count > c.Limit).OrderByDescending(c => c.ResetsIn).Cast<WindowCount?>().FirstOrDefault();

    /// <summary>
    /// What one client is counted as: an IPv4 address, or an IPv6 address's /64 (one subscriber is usually handed a whole
    /// /64, so per address would be no limit at all). On Azure the worker takes the client from X-Forwarded-For as the
    /// platform's front end appends it; locally it is Kestrel's peer.
    /// </summary>
    public static string? AddressBucket(IPAddress? address)
    {
        if (address is null) return null;
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (address.AddressFamily != AddressFamily.InterNetworkV6) return address.ToString();
        var bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes) + "/64";
    }

    void Warn(Exception? e)
    {
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref lastWarning);
        if (now - last < 10_000 || Interlocked.CompareExchange(ref lastWarning, now, last) != last) return;
        logger.LogWarning(e, "Event rate limit: Redis failed or was slow; letting publishable-key requests through unlimited");
    }
}
