using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using Cdp.Shared.Storage;

namespace Cdp.Shared.Summaries;

/// <summary>
/// The per-entity Redis lock of the summary computation (seed 003 flow 3: key summary:{type}:{id}, 30 s), with a dirty
/// flag so that a trigger arriving while another worker computes is not lost:
/// <list type="number">
/// <item>acquire: <c>SET lock token NX PX 30000</c>; on success the dirty flag is cleared (the computation about to
/// start reads everything anyway);</item>
/// <item>a trigger that finds the lock held sets the dirty flag and tries once more to acquire: either the holder has
/// already released (it then computes itself) or the holder will see the flag;</item>
/// <item>release is one Lua script, atomic with the flag: when the flag is set it is cleared, the lock kept (and
/// extended) and the holder computes again; otherwise the lock is deleted if it still carries the holder's token.</item>
/// </list>
/// Redis being atomic, no trigger falls between the holder's last check and its release. A holder that dies leaves the
/// lock to expire; a flag it never saw is picked up by the next trigger or the hourly full recalculation.
/// Redis unreachable: <see cref="RunAsync"/> computes without the lock (logged) rather than stalling the pipeline;
/// a double computation is harmless (the summary is a full recompute and an upsert).
/// </summary>
public sealed class SummaryLock(RedisConnection redis, ILogger<SummaryLock> logger)
{
    public static readonly TimeSpan Expiry = TimeSpan.FromSeconds(30);

    /// <summary>The lock's expiry, extended while a computation runs; tests shorten it.</summary>
    internal TimeSpan LockExpiry { get; init; } = Expiry;

    const string RenewScript = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0";

    const string ReleaseScript = """
        if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end
        if redis.call('del', KEYS[2]) == 1 then
            redis.call('pexpire', KEYS[1], ARGV[2])
            return 2
        end
        redis.call('del', KEYS[1])
        return 1
        """;

    public static string LockKey(string entityType, Guid id) => $"summary:{entityType}:{id}";
    public static string DirtyKey(string entityType, Guid id) => $"summary:dirty:{entityType}:{id}";

    /// <summary>
    /// Runs <paramref name="compute"/> under the entity's lock, again for as long as triggers arrived meanwhile.
    /// Returns false when another worker holds the lock (it was told to compute again).
    /// </summary>
    public async Task<bool> RunAsync(string entityType, Guid id, Func<CancellationToken, Task> compute, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(compute);
        RedisKey lockKey = LockKey(entityType, id), dirtyKey = DirtyKey(entityType, id);
        var token = Guid.NewGuid().ToString("N");
        IDatabase db;
        try
        {
            db = redis.Database;
            if (!await TryAcquireAsync(db, lockKey, dirtyKey, token))
            {
                await db.StringSetAsync(dirtyKey, "1", LockExpiry + LockExpiry);
                // The holder may have released between our SET NX and the flag: then nobody would see the flag.
                if (!await TryAcquireAsync(db, lockKey, dirtyKey, token)) return false;
            }
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            logger.LogWarning(e, "Redis unavailable: computing the {EntityType} {EntityId} summary without its lock", entityType, id);
            await compute(ct);
            return true;
        }

        var done = false;
        try
        {
            while (true)
            {
                await ComputeHoldingAsync(db, lockKey, token, compute, ct);
                int released;
                try
                {
                    released = (int)await db.ScriptEvaluateAsync(ReleaseScript, [lockKey, dirtyKey],
                        [token, (long)LockExpiry.TotalMilliseconds]);
                }
                catch (Exception e) when (e is RedisException or TimeoutException)
                {
                    // The lock expires by itself; the computation is done.
                    logger.LogWarning(e, "Could not release the summary lock {Key}", lockKey);
                    released = 1;
                }
                if (released != 2) break;   // 1 released; 0 lost (expired): the computation still happened
            }
            done = true;
            return true;
        }
        finally
        {
            if (!done) await ReleaseQuietlyAsync(db, lockKey, token);
        }
    }

    /// <summary>
    /// Runs one computation while extending the lock every third of its expiry (token-checked), so a computation that
    /// outlasts the expiry is still never joined by a second one.
    /// </summary>
    async Task ComputeHoldingAsync(IDatabase db, RedisKey lockKey, string token, Func<CancellationToken, Task> compute, CancellationToken ct)
    {
        using var computing = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var work = compute(ct);
        while (await Task.WhenAny(work, Task.Delay(LockExpiry / 3, computing.Token)) != work)
        {
            try
            {
                await db.ScriptEvaluateAsync(RenewScript, [lockKey], [token, (long)LockExpiry.TotalMilliseconds]);
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                logger.LogWarning(e, "Could not extend the summary lock {Key}; the computation goes on", lockKey);
            }
        }
        await computing.CancelAsync();
        await work;
    }

    async Task<bool> TryAcquireAsync(IDatabase db, RedisKey lockKey, RedisKey dirtyKey, string token)
    {
        if (!await db.StringSetAsync(lockKey, token, LockExpiry, When.NotExists)) return false;
        await db.KeyDeleteAsync(dirtyKey);
        return true;
    }

    /// <summary>After a failed computation: let go (the topic retries the message), keeping any dirty flag.</summary>
    async Task ReleaseQuietlyAsync(IDatabase db, RedisKey lockKey, string token)
    {
        try
        {
            await db.ScriptEvaluateAsync("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0",
                [lockKey], [token]);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            logger.LogWarning(e, "Could not release the summary lock {Key}", lockKey);
        }
    }
}
