using Cdp.Shared.Channels.WeCom;
using Cdp.Shared.Storage;
using Cdp.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Cdp.Tests.Web;

/// <summary>The JS-SDK ticket cache against the real Redis: one fetch across processes, a refresh before expiry.</summary>
public sealed class JsSdkTicketCacheTests
{
    static RedisConnection Redis() => new(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
    {
        ["ConnectionStrings:Redis"] = LocalServers.Redis,
    }).Build());

    /// <summary>A process's cache of one WeCom app of its own (a unique API URL keys its tickets apart from other tests').</summary>
    static WeComJsSdk Process(RedisConnection redis, string app) => new(redis, Options.Create(new WeComOptions
    {
        CorpId = "wwcache", AgentId = "1000002", ApiBaseUrl = $"https://{app}.wecom-test.example", TokenRefreshMargin = TimeSpan.FromMinutes(5),
    }), TimeProvider.System, NullLogger<WeComJsSdk>.Instance);

    static async Task<RedisConnection> ConnectedAsync()
    {
        var redis = Redis();
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (!redis.IsConnected && waited.Elapsed < TimeSpan.FromSeconds(20)) await Task.Delay(50);
        Assert.True(redis.IsConnected, "Redis on loopback is not answering (./cdp deps starts it).");
        return redis;
    }

    [Fact]
    public async Task Two_processes_with_many_callers_each_fetch_a_ticket_once_between_them()
    {
        using var redisA = await ConnectedAsync();
        using var redisB = await ConnectedAsync();
        var app = Guid.NewGuid().ToString("N");
        var (a, b) = (Process(redisA, app), Process(redisB, app));
        var fetches = 0;
        async Task<(string, TimeSpan)> Fetch(CancellationToken ct)
        {
            var n = Interlocked.Increment(ref fetches);
            await Task.Delay(300, ct);   // slow enough that every caller arrives while it runs
            return ($"ticket-{n}", TimeSpan.FromHours(2));
        }

        var tickets = await Task.WhenAll(Enumerable.Range(0, 40).Select(i =>
            (i % 2 == 0 ? a : b).TicketAsync(WeComTicketKind.JsApi, Fetch, CancellationToken.None)));

        Assert.Equal(1, fetches);
        Assert.All(tickets, t => Assert.Equal("ticket-1", t));
        // The other ticket is cached apart: asking for it fetches it.
        Assert.Equal("ticket-2", await a.TicketAsync(WeComTicketKind.AgentConfig, Fetch, CancellationToken.None));
        Assert.Equal("ticket-2", await b.TicketAsync(WeComTicketKind.AgentConfig, Fetch, CancellationToken.None));
        Assert.Equal(2, fetches);
    }

    [Fact]
    public async Task A_ticket_is_replaced_before_WeCom_says_it_expires()
    {
        using var redis = await ConnectedAsync();
        var cache = Process(redis, Guid.NewGuid().ToString("N"));
        var fetches = 0;
        // 3 s is under twice the 5-minute margin, so the ticket is kept for half its life.
        Task<(string, TimeSpan)> Fetch(CancellationToken _) => Task.FromResult(($"ticket-{Interlocked.Increment(ref fetches)}", TimeSpan.FromSeconds(3)));

        Assert.Equal("ticket-1", await cache.TicketAsync(WeComTicketKind.JsApi, Fetch, CancellationToken.None));
        Assert.Equal("ticket-1", await cache.TicketAsync(WeComTicketKind.JsApi, Fetch, CancellationToken.None));
        await Task.Delay(TimeSpan.FromSeconds(1.7));
        Assert.Equal("ticket-2", await cache.TicketAsync(WeComTicketKind.JsApi, Fetch, CancellationToken.None));
        Assert.Equal(2, fetches);

        Assert.Equal(TimeSpan.FromSeconds(7200 - 300), KeptValue<string>.LessMargin(TimeSpan.FromSeconds(7200), TimeSpan.FromMinutes(5)));
    }

    [Fact]
    public async Task A_failed_fetch_is_not_cached_and_lets_the_next_caller_fetch()
    {
        using var redis = await ConnectedAsync();
        var cache = Process(redis, Guid.NewGuid().ToString("N"));
        await Assert.ThrowsAsync<HttpRequestException>(() => cache.TicketAsync(WeComTicketKind.JsApi,
            _ => throw new HttpRequestException("down"), CancellationToken.None));
        Assert.Equal("ok", await cache.TicketAsync(WeComTicketKind.JsApi, _ => Task.FromResult(("ok", TimeSpan.FromHours(2))), CancellationToken.None));
    }
}
