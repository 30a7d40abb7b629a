using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Cdp.Shared.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Cdp.Shared.Channels.WeCom;

/// <summary>The two JS-SDK tickets (FACTS.md): swapping them gives errcode 40093 in the browser.</summary>
public enum WeComTicketKind { JsApi, AgentConfig }

/// <summary>What a page passes to <c>wx.config</c> (signature) and <c>wx.agentConfig</c> (agentSignature); one timestamp and nonce serve both.</summary>
public sealed record JsSdkConfig(string CorpId, string AgentId, long Timestamp, string NonceStr, string Signature, string AgentSignature);

/// <summary>
/// Signs pages for the WeCom JS-SDK. Both tickets are cached in Redis for every process of the install (WeCom allows
/// 400 fetches an hour per company) with WeCom's expires_in less <see cref="WeComOptions.TokenRefreshMargin"/>, so a
/// ticket is replaced before it expires; a process keeps its copy in memory until the same moment. One fetch under
/// concurrency: callers in a process share it (a gate per ticket), processes share it through a short Redis lock the
/// others wait on. Redis down or slow: each process fetches and keeps its own. Tickets are never logged.
/// </summary>
public sealed partial class WeComJsSdk(RedisConnection redis, IOptions<WeComOptions> options, TimeProvider time, ILogger<WeComJsSdk> logger)
{
    static readonly TimeSpan LockTtl = TimeSpan.FromSeconds(10);
    static readonly TimeSpan LockWait = TimeSpan.FromSeconds(5);
    static readonly TimeSpan RedisBudget = TimeSpan.FromSeconds(1);
    static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(50);

    const string UnlockScript = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0";

    sealed record Entry(string Ticket, DateTimeOffset RefreshAt);

    readonly ConcurrentDictionary<WeComTicketKind, Entry> memory = new();
    readonly ConcurrentDictionary<WeComTicketKind, SemaphoreSlim> gates = new();

    /// <summary>
    /// SHA1 hex of <c>jsapi_ticket=T&amp;noncestr=N&amp;timestamp=TS&amp;url=URL</c>, in that order, the URL as the page has
    /// it (no URL-encoding, cut before '#').
    /// </summary>
    public static string Sign(string ticket, string nonceStr, long timestamp, string url)
    {
        ArgumentNullException.ThrowIfNull(ticket);
        ArgumentNullException.ThrowIfNull(nonceStr);
        ArgumentNullException.ThrowIfNull(url);
        var text = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"jsapi_ticket={ticket}&noncestr={nonceStr}&timestamp={timestamp}&url={url}");
        return Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(text)));
    }

    /// <summary>The signatures for <paramref name="url"/> (already checked by the caller), with both tickets from the cache.</summary>
    public async Task<JsSdkConfig> ConfigAsync(string url, WeComApiClient client, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(client);
        var settings = options.Value;
        var agentId = settings.AgentId is { Length: > 0 } a ? a : throw new InvalidOperationException("WeCom:AgentId is not set.");
        var jsApi = TicketAsync(WeComTicketKind.JsApi, c => client.FetchJsSdkTicketAsync(WeComTicketKind.JsApi, c), ct);
        var agent = TicketAsync(WeComTicketKind.AgentConfig, c => client.FetchJsSdkTicketAsync(WeComTicketKind.AgentConfig, c), ct);
        var timestamp = time.GetUtcNow().ToUnixTimeSeconds();
        var nonce = RandomNumberGenerator.GetString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 16);
        return new JsSdkConfig(settings.CorpId, agentId, timestamp, nonce, Sign(await jsApi, nonce, timestamp, url), Sign(await agent, nonce, timestamp, url));
    }

    /// <summary>The cached ticket of <paramref name="kind"/>, or the one <paramref name="fetch"/> gets (once, however many ask).</summary>
    public async Task<string> TicketAsync(WeComTicketKind kind, Func<CancellationToken, Task<(string Ticket, TimeSpan ExpiresIn)>> fetch, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(fetch);
        if (Fresh(kind) is { } ticket) return ticket;
        var gate = gates.GetOrAdd(kind, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(ct);
        try
        {
            if (Fresh(kind) is { } fetched) return fetched;
            var db = redis.IsConnected ? redis.Database : null;
            var key = Key(kind);
            if (db is not null && await FromRedisAsync(db, kind, key) is { } shared) return shared;

            string? lockToken = null;
            if (db is not null)
            {
                lockToken = Guid.NewGuid().ToString("N");
                var locked = await TryAsync(db.StringSetAsync(key + ":lock", lockToken, LockTtl, When.NotExists), "lock");
                if (locked == false)
                {
                    lockToken = null;
                    // Another process is fetching: take its ticket rather than spend a second fetch.
                    var waited = Stopwatch.StartNew();
                    while (waited.Elapsed < LockWait)
                    {
                        await Task.Delay(Poll, ct);
                        if (await FromRedisAsync(db, kind, key) is { } theirs) return theirs;
                    }
                }
            }

            try
            {
                var (newTicket, expiresIn) = await fetch(ct);
                var keep = KeptValue<string>.LessMargin(expiresIn, options.Value.TokenRefreshMargin);
                memory[kind] = new Entry(newTicket, time.GetUtcNow() + keep);
                if (db is not null) await TryAsync(db.StringSetAsync(key, newTicket, keep, When.Always), "store");
                return newTicket;
            }
            finally
            {
                if (db is not null && lockToken is not null) await TryAsync(db.ScriptEvaluateAsync(UnlockScript, [key + ":lock"], [lockToken]), "unlock");
            }
        }
        finally
        {
            gate.Release();
        }
    }

    async Task<string?> FromRedisAsync(IDatabase db, WeComTicketKind kind, string key)
    {
        var cached = await TryAsync(db.StringGetWithExpiryAsync(key), "read");
        if (cached is not { Value.HasValue: true, Expiry: { } left } || left <= TimeSpan.Zero) return null;
        var ticket = (string)cached.Value.Value!;
        memory[kind] = new Entry(ticket, time.GetUtcNow() + left);
        return ticket;
    }

    string? Fresh(WeComTicketKind kind) =>
        memory.TryGetValue(kind, out var entry) && time.GetUtcNow() < entry.RefreshAt ? entry.Ticket : null;

    /// <summary>
    /// One key per WeCom app: a ticket belongs to the corp and agent it was fetched for, from the API it came from (a
    /// stand-in's tickets never serve the real WeCom, nor one test install another's).
    /// </summary>
    string Key(WeComTicketKind kind)
    {
        var o = options.Value;
        var app = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{o.ApiBaseUrl.TrimEnd('/')}|{o.CorpId}|{o.AgentId}")))[..16];
        return $"cdp:wecom:ticket:{(kind == WeComTicketKind.AgentConfig ? "agent_config" : "jsapi")}:{app}";
    }

    async Task<T?> TryAsync<T>(Task<T> operation, string what) where T : struct
    {
        try
        {
            return await operation.WaitAsync(RedisBudget);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            LogRedis(logger, what, e.GetType().Name);
            return null;
        }
    }

    async Task TryAsync(Task operation, string what)
    {
        try
        {
            await operation.WaitAsync(RedisBudget);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            LogRedis(logger, what, e.GetType().Name);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "JS-SDK ticket cache: Redis {What} failed ({Error}); using this process's copy")]
    private static partial void LogRedis(ILogger logger, string what, string error);
}
