using System.Text.Json;
using Cdp.Shared;
using Cdp.Shared.Customers;
using Cdp.Shared.Storage;
using Cdp.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Cdp.Tests.Customers;

/// <summary>The cache-aside of the customer views against the real Redis: stampedes, races with writes, outages.</summary>
public sealed class CustomerViewCacheTests
{
    public sealed record View(string Text, bool Partial = false);

    static CustomerViewCache Cache(RedisConnection? redis = null, CustomerViewOptions? options = null) =>
        new(redis ?? TestRedis.Connect(), Options.Create(options ?? new CustomerViewOptions()), NullLogger<CustomerViewCache>.Instance);

    static CustomerRef NewCustomer() => CustomerRef.Account(Guid.NewGuid());

    /// <summary>A read through the cache, as the view and whether it came from Redis; masked, the view's text is prefixed.</summary>
    static async Task<(View? View, bool Cached)> Get(CustomerViewCache cache, CustomerRef customer, Func<Task<View?>> load, bool masked = false)
    {
        var read = await cache.GetOrLoadAsync(customer, masked, load, v => v with { Text = "masked " + v.Text }, v => v.Partial);
        if (read is not null) Assert.Equal(masked, read.Masked);
        return read is null ? (null, false) : (JsonSerializer.Deserialize<View>(read.Json, CdpJson.Options), read.Cached);
    }

    [Fact]
    public async Task A_miss_loads_once_and_the_next_read_is_served_from_redis()
    {
        var cache = Cache();
        var customer = NewCustomer();
        var loads = 0;
        Task<View?> Load() { Interlocked.Increment(ref loads); return Task.FromResult<View?>(new View("v1")); }

        var first = await Get(cache, customer, Load);
        var second = await Get(cache, customer, Load);

        Assert.Equal((new View("v1"), false), first);
        Assert.Equal((new View("v1"), true), second);
        Assert.Equal(1, loads);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Masked_and_full_readers_each_get_their_own_form_from_one_load_whichever_reads_first(bool maskedFirst)
    {
        var cache = Cache();
        var customer = NewCustomer();
        var loads = 0;
        Task<View?> Load() { Interlocked.Increment(ref loads); return Task.FromResult<View?>(new View("v1")); }

        var first = await Get(cache, customer, Load, masked: maskedFirst);
        var second = await Get(cache, customer, Load, masked: !maskedFirst);
        var again = await Get(cache, customer, Load, masked: maskedFirst);

        Assert.Equal((new View(maskedFirst ? "masked v1" : "v1"), false), first);
        Assert.Equal((new View(maskedFirst ? "v1" : "masked v1"), true), second);   // the load filled both forms
        Assert.Equal((new View(maskedFirst ? "masked v1" : "v1"), true), again);
        Assert.Equal(1, loads);
    }

    [Fact]
    public async Task Invalidation_deletes_both_forms()
    {
        var cache = Cache();
        var customer = NewCustomer();
        await Get(cache, customer, () => Task.FromResult<View?>(new View("old")));

        await cache.InvalidateAsync(customer);

        Assert.Equal((new View("masked new"), false), await Get(cache, customer, () => Task.FromResult<View?>(new View("new")), masked: true));
        Assert.Equal((new View("new"), true), await Get(cache, customer, () => Task.FromResult<View?>(new View("unused"))));
    }

    [Fact]
    public async Task Fifty_concurrent_misses_of_a_hot_key_in_one_process_run_one_load()
    {
        var cache = Cache();
        var customer = NewCustomer();
        var loads = 0;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async Task<View?> Load()
        {
            Interlocked.Increment(ref loads);
            await release.Task;
            return new View("hot");
        }

        // Half of them masked: both forms come from the one load.
        var readers = Enumerable.Range(0, 50).Select(i => Task.Run(() => Get(cache, customer, Load, masked: i % 2 == 1))).ToList();
        await Eventually.Until(() => Volatile.Read(ref loads) > 0, TimeSpan.FromSeconds(5), "the load started");
        await Task.Delay(100);   // let every reader arrive while the load is still running
        release.SetResult();
        var results = await Task.WhenAll(readers);

        Assert.Equal(1, loads);
        Assert.All(results.Select((r, i) => (r.View, i)), r => Assert.Equal(new View(r.i % 2 == 1 ? "masked hot" : "hot"), r.View));
    }

    [Fact]
    public async Task Two_processes_missing_the_same_key_at_once_query_the_databases_once()
    {
        // Two caches with connections of their own stand for two host processes: only Redis is shared.
        // A long rebuild wait, so a busy machine cannot turn b's wait into a second load.
        var patient = new CustomerViewOptions { RebuildWait = TimeSpan.FromSeconds(10) };
        var a = Cache(TestRedis.Connect(), patient);
        var b = Cache(TestRedis.Connect(), patient);
        var customer = NewCustomer();
        var loads = 0;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async Task<View?> Load()
        {
            Interlocked.Increment(ref loads);
            await release.Task;
            return new View("shared");
        }

        var first = Get(a, customer, Load);
        await Eventually.Until(() => Volatile.Read(ref loads) == 1, TimeSpan.FromSeconds(5), "a is loading");
        var second = Get(b, customer, Load);
        await Task.Delay(100);
        release.SetResult();

        Assert.Equal((new View("shared"), false), await first);
        Assert.Equal((new View("shared"), true), await second);   // b waited for a's value instead of loading
        Assert.Equal(1, loads);
    }

    [Fact]
    public async Task A_failed_load_reaches_its_caller_and_lets_go_of_the_rebuild_lock()
    {
        var redis = TestRedis.Connect();
        var cache = Cache(redis);
        var customer = NewCustomer();

        await Assert.ThrowsAsync<TimeoutException>(() => Get(cache, customer, () => throw new TimeoutException("Postgres did not answer")));

        Assert.False(await redis.Database.KeyExistsAsync(CustomerViewCache.Keys.Of(customer).Lock));   // nobody waits for it
        Assert.Equal((new View("next"), false), await Get(cache, customer, () => Task.FromResult<View?>(new View("next"))));
    }

    [Fact]
    public async Task A_load_that_raced_a_write_does_not_put_the_old_view_back()
    {
        var cache = Cache();
        var customer = NewCustomer();
        var loaded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async Task<View?> StaleLoad()
        {
            loaded.SetResult();   // it has read the rows as they were before the write
            await release.Task;
            return new View("before the write");
        }

        var racing = Get(cache, customer, StaleLoad);
        await loaded.Task.WaitAsync(TimeSpan.FromSeconds(5));
        await cache.InvalidateAsync(customer);   // the write commits and deletes the view
        release.SetResult();
        Assert.Equal("before the write", (await racing).View!.Text);   // the racing reader itself saw the old rows

        var next = await Get(cache, customer, () => Task.FromResult<View?>(new View("after the write")));
        Assert.Equal((new View("after the write"), false), next);
    }

    [Fact]
    public async Task Invalidation_deletes_the_view_so_the_next_read_loads_again()
    {
        var cache = Cache();
        var customer = NewCustomer();
        await Get(cache, customer, () => Task.FromResult<View?>(new View("old")));

        await cache.InvalidateAsync(customer, NewCustomer());
        var next = await Get(cache, customer, () => Task.FromResult<View?>(new View("new")));
        var again = await Get(cache, customer, () => Task.FromResult<View?>(new View("unused")));

        Assert.Equal((new View("new"), false), next);
        Assert.Equal((new View("new"), true), again);
    }

    [Fact]
    public async Task A_partial_view_is_kept_only_for_the_short_ttl_and_a_missing_entity_is_not_cached()
    {
        var cache = Cache(options: new CustomerViewOptions { PartialCacheTtl = TimeSpan.FromMilliseconds(300) });
        var partial = NewCustomer();
        await Get(cache, partial, () => Task.FromResult<View?>(new View("no behaviour", Partial: true)));
        Assert.True((await Get(cache, partial, () => Task.FromResult<View?>(new View("x")))).Cached);
        await Task.Delay(600);
        Assert.Equal((new View("complete"), false),
            await Get(cache, partial, () => Task.FromResult<View?>(new View("complete"))));

        var missing = NewCustomer();
        Assert.Equal((null, false), await Get(cache, missing, () => Task.FromResult<View?>(null)));
        Assert.Equal((new View("created"), false),
            await Get(cache, missing, () => Task.FromResult<View?>(new View("created"))));
    }

    [Fact]
    public async Task With_redis_stopped_every_read_loads_and_an_invalidation_lands_once_redis_is_back()
    {
        await using var server = await RedisServer.StartAsync();
        using var redis = TestRedis.Connect(server.Address);
        var cache = Cache(redis);
        var customer = NewCustomer();
        await Get(cache, customer, () => Task.FromResult<View?>(new View("cached")));

        server.Stop();
        await Eventually.Until(() => !redis.IsConnected, TimeSpan.FromSeconds(5), "the client noticed");
        var loads = 0;
        for (var i = 0; i < 3; i++)
        {
            var read = await Get(cache, customer, () => { loads++; return Task.FromResult<View?>(new View("from the databases")); });
            Assert.Equal((new View("from the databases"), false), read);
        }
        Assert.Equal(3, loads);
        await cache.InvalidateAsync(customer);   // must not throw; it is retried in the background

        // Back (empty, as after a restart): the retried invalidation lands (it bumps the generation) and the cache fills again.
        await server.RestartAsync();
        await Eventually.Until(() => redis.IsConnected, TimeSpan.FromSeconds(15), "the client reconnected");
        await Eventually.Until(async () =>
        {
            try { return await redis.Database.KeyExistsAsync(CustomerViewCache.Keys.Of(customer).Generation); }
            catch (StackExchange.Redis.RedisConnectionException) { return false; }   // still reconnecting
        }, TimeSpan.FromSeconds(15), "the invalidation was retried");
        await Get(cache, customer, () => Task.FromResult<View?>(new View("refilled")));
        Assert.Equal((new View("refilled"), true),
            await Get(cache, customer, () => Task.FromResult<View?>(new View("unused"))));
    }
}
