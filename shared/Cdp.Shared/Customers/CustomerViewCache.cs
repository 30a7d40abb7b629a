using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Cdp.Shared.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Cdp.Shared.Customers;

/// <summary>
/// Cache-aside in Redis for the customer views (seed 003 flow 4), built so that a write is never hidden for long and
/// a hot key never sends a crowd to the databases. It keeps a view as its JSON, so a hit is served without being
/// parsed or serialized again.
/// <list type="bullet">
/// <item>Each entity has a value key and a generation key (one hash tag, so a cluster keeps them on one slot).
/// <see cref="InvalidateAsync"/> deletes the value and bumps the generation; a loader fills the cache only if the
/// generation is still the one it read before loading (one Lua script), so a load that raced a write cannot put the
/// old view back for 300 s.</item>
/// <item>Stampede: concurrent misses of one key in this process share one load; across processes the first to
/// <c>SET NX</c> the rebuild lock loads and the others wait briefly for its value.</item>
/// <item>Redis down, slow or not yet connected: every call has a small budget and the view comes from the databases.
/// An invalidation that could not reach Redis is retried in the background until it lands or the value would have
/// expired anyway.</item>
/// </list>
/// </summary>
public sealed class CustomerViewCache(RedisConnection redis, IOptions<CustomerViewOptions> options, ILogger<CustomerViewCache> logger)
{
    const string FillScript = """
        if (redis.call('get', KEYS[2]) or '0') == ARGV[1] then
            redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3])
        end
        if redis.call('get', KEYS[3]) == ARGV[4] then redis.call('del', KEYS[3]) end
        return 1
        """;

    const string InvalidateScript = """
        redis.call('del', KEYS[1])
        redis.call('incr', KEYS[2])
        redis.call('pexpire', KEYS[2], ARGV[1])
        return 1
        """;

    static readonly TimeSpan RebuildPoll = TimeSpan.FromMilliseconds(20);

    readonly CustomerViewOptions settings = options.Value;
    readonly ConcurrentDictionary<string, object> loading = new();
    long lastWarning = long.MinValue / 2;

    /// <summary>The cached view, or the one <paramref name="load"/> builds (null: no such entity; not cached).</summary>
    public async Task<CachedView?> GetOrLoadAsync<T>(CustomerRef customer, Func<Task<T?>> load, Func<T, bool> isPartial)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(load);
        var keys = Keys.Of(customer);
        var db = Connected();
        var read = db is null ? null : await TryAsync(db.StringGetAsync([keys.Value, keys.Generation]), "read");
        if (read is not null && read[0].HasValue) return new CachedView((string)read[0]!, Cached: true);

        // Without Redis there is nothing to share a load through, and no generation to fill against.
        if (db is null || read is null) return Serialize(await load());
        var generation = read[1].HasValue ? (string)read[1]! : "0";

        var shared = new Lazy<Task<CachedView?>>(() => LoadOnceAsync(db, keys, generation, load, isPartial));
        var winner = (Lazy<Task<CachedView?>>)loading.GetOrAdd(keys.Value, shared);
        try
        {
            return await winner.Value;
        }
        finally
        {
            loading.TryRemove(new KeyValuePair<string, object>(keys.Value, winner));
        }
    }

    async Task<CachedView?> LoadOnceAsync<T>(IDatabase db, Keys keys, string generation, Func<Task<T?>> load, Func<T, bool> isPartial)
        where T : class
    {
        var token = Guid.NewGuid().ToString("N");
        var rebuilding = await TryAsync(db.StringSetAsync(keys.Lock, token, settings.RebuildWait + settings.RedisTimeout, When.NotExists), "lock");
        if (rebuilding == false)
        {
            // Another process is building this view: take its result rather than query the databases a second time.
            var waited = Stopwatch.StartNew();
            while (waited.Elapsed < settings.RebuildWait)
            {
                await Task.Delay(RebuildPoll);
                var value = await TryAsync(db.StringGetAsync(keys.Value), "read");
                if (value is { HasValue: true } v) return new CachedView((string)v!, Cached: true);
            }
        }

        T? view;
        try
        {
            view = await load();
        }
        catch
        {
            if (rebuilding == true) await UnlockAsync(db, keys, token);   // the others need not wait out the lock
            throw;
        }
        if (view is null)
        {
            if (rebuilding == true) await UnlockAsync(db, keys, token);
            return null;
        }
        var ttl = isPartial(view) ? settings.PartialCacheTtl : settings.CacheTtl;
        var built = Serialize(view)!;
        await TryAsync(db.ScriptEvaluateAsync(FillScript, [keys.Value, keys.Generation, keys.Lock],
            [generation, built.Json, (long)ttl.TotalMilliseconds, token]), "fill");
        return built;
    }

    // The fill script with a generation no key holds: it stores nothing and only lets go of our rebuild lock.
    Task UnlockAsync(IDatabase db, Keys keys, string token) =>
        TryAsync(db.ScriptEvaluateAsync(FillScript, [keys.Value, keys.Generation, keys.Lock], ["none", "", 1, token]), "unlock");

    static CachedView? Serialize<T>(T? view) => view is null ? null : new CachedView(JsonSerializer.Serialize(view, CdpJson.Options), Cached: false);

    /// <summary>
    /// Deletes the cached views of <paramref name="customers"/>. Call after the write's commit (before it, a reader could
    /// cache the old rows again). Never throws: a view that cannot be deleted now is deleted later.
    /// </summary>
    public async Task InvalidateAsync(IEnumerable<CustomerRef> customers)
    {
        var pending = customers.Distinct().ToList();
        if (pending.Count == 0) return;
        if (!await TryInvalidateAsync(pending)) _ = RetryInvalidationAsync(pending);
    }

    public Task InvalidateAsync(params CustomerRef[] customers) => InvalidateAsync((IEnumerable<CustomerRef>)customers);

    async Task<bool> TryInvalidateAsync(List<CustomerRef> customers)
    {
        var db = Connected();
        if (db is null) return false;
        var generationTtl = (long)(settings.CacheTtl + settings.CacheTtl).TotalMilliseconds;
        var done = await TryAsync(Task.WhenAll(customers.Select(c =>
        {
            var keys = Keys.Of(c);
            return db.ScriptEvaluateAsync(InvalidateScript, [keys.Value, keys.Generation], [generationTtl]);
        })), "invalidate");
        return done is not null;
    }

    /// <summary>Until it lands or the stale value has expired on its own (Redis restarted empty needs nothing).</summary>
    async Task RetryInvalidationAsync(List<CustomerRef> customers)
    {
        var since = Stopwatch.StartNew();
        var delay = TimeSpan.FromMilliseconds(200);
        while (since.Elapsed < settings.CacheTtl)
        {
            await Task.Delay(delay);
            if (await TryInvalidateAsync(customers)) return;
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(10).Ticks));
        }
        logger.LogWarning("Gave up deleting {Count} cached customer view(s) after {Elapsed}; they expire by themselves", customers.Count, since.Elapsed);
    }

    IDatabase? Connected()
    {
        try
        {
            return redis.IsConnected ? redis.Database : null;
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            Warn(e, "connect");
            return null;
        }
    }

    /// <summary>The call's result, or default when Redis failed or took longer than its budget.</summary>
    async Task<TResult?> TryAsync<TResult>(Task<TResult> call, string what)
    {
        try
        {
            return await call.WaitAsync(settings.RedisTimeout);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            Warn(e, what);
            return default;
        }
    }

    async Task<bool?> TryAsync(Task<bool> call, string what)
    {
        try
        {
            return await call.WaitAsync(settings.RedisTimeout);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            Warn(e, what);
            return null;
        }
    }

    /// <summary>One warning per 10 s: during an outage every request would otherwise log one.</summary>
    void Warn(Exception e, string what)
    {
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref lastWarning);
        if (now - last < 10_000 || Interlocked.CompareExchange(ref lastWarning, now, last) != last) return;
        logger.LogWarning(e, "Customer view cache: Redis {Operation} failed or was slow; serving from the databases", what);
    }

    internal readonly record struct Keys(string Value, string Generation, string Lock)
    {
        public static Keys Of(CustomerRef c)
        {
            var tag = $"c360:{{{c.Kind}:{c.Id:N}}}";
            return new Keys(tag, tag + ":gen", tag + ":lock");
        }
    }
}

/// <summary>A view's JSON object and whether it came from Redis.</summary>
public sealed record CachedView(string Json, bool Cached)
{
    /// <summary>The API's body: the view with <c>"cached"</c> added (it describes this delivery, not the view).</summary>
    public string ToResponse() => (Cached ? "{\"cached\":true," : "{\"cached\":false,") + Json[1..];
}
