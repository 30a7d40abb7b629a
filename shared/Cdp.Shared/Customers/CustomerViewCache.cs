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
/// <item>Each entity has two value keys, the full view and the view masked for callers without <c>pii:reveal</c>,
/// and a generation key (one hash tag, so a cluster keeps them on one slot). A load fills both at once, so each
/// caller is served its own form from Redis and a masked caller can never be handed the full one.
/// <see cref="InvalidateAsync"/> deletes both values and bumps the generation; a loader fills the cache only if the
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
            redis.call('set', KEYS[4], ARGV[5], 'PX', ARGV[3])
        end
        if redis.call('get', KEYS[3]) == ARGV[4] then redis.call('del', KEYS[3]) end
        return 1
        """;

    const string InvalidateScript = """
        redis.call('del', KEYS[1], KEYS[3])
        redis.call('incr', KEYS[2])
        redis.call('pexpire', KEYS[2], ARGV[1])
        return 1
        """;

    static readonly TimeSpan RebuildPoll = TimeSpan.FromMilliseconds(20);

    readonly CustomerViewOptions settings = options.Value;
    readonly ConcurrentDictionary<string, object> loading = new();
    long lastWarning = long.MinValue / 2;

    /// <summary>
    /// The cached view, or the one <paramref name="load"/> builds (null: no such entity; not cached), in full or, when
    /// <paramref name="masked"/>, as <paramref name="mask"/> makes it.
    /// </summary>
    public async Task<CachedView?> GetOrLoadAsync<T>(CustomerRef customer, bool masked, Func<Task<T?>> load, Func<T, T> mask, Func<T, bool> isPartial)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(load);
        ArgumentNullException.ThrowIfNull(mask);
        var keys = Keys.Of(customer);
        var db = Connected();
        var read = db is null ? null : await TryAsync(db.StringGetAsync([masked ? keys.Masked : keys.Value, keys.Generation]), "read");
        if (read is not null && read[0].HasValue) return new CachedView((string)read[0]!, Cached: true, masked);

        // Without Redis there is nothing to share a load through, and no generation to fill against.
        if (db is null || read is null) return await load() is { } view ? Serialize(masked ? mask(view) : view, cached: false, masked) : null;
        var generation = read[1].HasValue ? (string)read[1]! : "0";

        // Masked and full readers of one entity share the load: it builds both forms.
        var shared = new Lazy<Task<Forms?>>(() => LoadOnceAsync(db, keys, generation, load, mask, isPartial));
        var winner = (Lazy<Task<Forms?>>)loading.GetOrAdd(keys.Value, shared);
        try
        {
            return (await winner.Value)?.Pick(masked);
        }
        finally
        {
            loading.TryRemove(new KeyValuePair<string, object>(keys.Value, winner));
        }
    }

    async Task<Forms?> LoadOnceAsync<T>(IDatabase db, Keys keys, string generation, Func<Task<T?>> load, Func<T, T> mask, Func<T, bool> isPartial)
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
                var values = await TryAsync(db.StringGetAsync([keys.Value, keys.Masked]), "read");
                if (values is [{ HasValue: true } full, { HasValue: true } masked]) return new Forms((string)full!, (string)masked!, Cached: true);
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
        var built = new Forms(Json(view), Json(mask(view)), Cached: false);
        await TryAsync(db.ScriptEvaluateAsync(FillScript, [keys.Value, keys.Generation, keys.Lock, keys.Masked],
            [generation, built.Full, (long)ttl.TotalMilliseconds, token, built.Masked]), "fill");
        return built;
    }

    // The fill script with a generation no key holds: it stores nothing and only lets go of our rebuild lock.
    Task UnlockAsync(IDatabase db, Keys keys, string token) =>
        TryAsync(db.ScriptEvaluateAsync(FillScript, [keys.Value, keys.Generation, keys.Lock, keys.Masked], ["none", "", 1, token, ""]), "unlock");

    static string Json<T>(T view) => JsonSerializer.Serialize(view, CdpJson.Options);

    static CachedView Serialize<T>(T view, bool cached, bool masked) => new(Json(view), cached, masked);

    /// <summary>Both forms of one view, as one load builds them and the waiting readers pick theirs.</summary>
    sealed record Forms(string Full, string Masked, bool Cached)
    {
        public CachedView Pick(bool masked) => new(masked ? Masked : Full, Cached, masked);
    }

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
            return db.ScriptEvaluateAsync(InvalidateScript, [keys.Value, keys.Generation, keys.Masked], [generationTtl]);
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

    /// <summary><see cref="Value"/> holds the full view, <see cref="Masked"/> the masked one.</summary>
    internal readonly record struct Keys(string Value, string Generation, string Lock, string Masked)
    {
        public static Keys Of(CustomerRef c)
        {
            var tag = $"c360:{{{c.Kind}:{c.Id:N}}}";
            return new Keys(tag, tag + ":gen", tag + ":lock", tag + ":masked");
        }
    }
}

/// <summary>A view's JSON object, whether it came from Redis and whether its personal data is masked.</summary>
public sealed record CachedView(string Json, bool Cached, bool Masked)
{
    /// <summary>
    /// The API's body: the view with <c>"cached"</c> and <c>"masked"</c> added (they describe this delivery, not the
    /// view), by concatenation, so a hit is still sent without being parsed.
    /// </summary>
    public string ToResponse() =>
        (Cached ? "{\"cached\":true," : "{\"cached\":false,") + (Masked ? "\"masked\":true," : "\"masked\":false,") + Json[1..];
}
