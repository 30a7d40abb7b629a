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
        var handedOff = await RunManyAsync([new SummaryEntity(entityType, id)], (_, token) => compute(token), ct);
        return handedOff.Count == 0;
    }

    /// <summary>
    /// The same for a round of entities, each under its own lock (the Redis calls pipelined): <paramref name="compute"/>
    /// gets those whose lock this worker took, then again those whose dirty flag was set meanwhile, until none is.
    /// Returns the entities another worker holds (each was told to compute again).
    /// </summary>
    public async Task<IReadOnlyList<SummaryEntity>> RunManyAsync(
        IReadOnlyList<SummaryEntity> entities, Func<IReadOnlyList<SummaryEntity>, CancellationToken, Task> compute, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(entities);
        ArgumentNullException.ThrowIfNull(compute);
        if (entities.Count == 0) return [];
        var token = Guid.NewGuid().ToString("N");
        IDatabase db;
        List<SummaryEntity> mine;
        var handedOff = new List<SummaryEntity>();
        try
        {
            db = redis.Database;
            var taken = await Task.WhenAll(entities.Select(e => TryAcquireAsync(db, e, token)));
            mine = [.. entities.Where((_, i) => taken[i])];
            var held = entities.Where((_, i) => !taken[i]).ToList();
            if (held.Count > 0)
            {
                await Task.WhenAll(held.Select(e => db.StringSetAsync(DirtyKey(e.EntityType, e.Id), "1", LockExpiry + LockExpiry)));
                // A holder may have released between our SET NX and the flag: then nobody would see the flag.
                var retaken = await Task.WhenAll(held.Select(e => TryAcquireAsync(db, e, token)));
                mine.AddRange(held.Where((_, i) => retaken[i]));
                handedOff.AddRange(held.Where((_, i) => !retaken[i]));
            }
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            logger.LogWarning(e, "Redis unavailable: computing the summary of {Count} entities (the first a {EntityType}) each without its lock",
                entities.Count, entities[0].EntityType);
            await compute(entities, ct);
            return [];
        }
        if (mine.Count == 0) return handedOff;

        var done = false;
        try
        {
            var pending = (IReadOnlyList<SummaryEntity>)mine;
            while (pending.Count > 0)
            {
                var round = pending;
                await ComputeHoldingAsync(db, round, token, t => compute(round, t), ct);
                var released = await Task.WhenAll(round.Select(e => ReleaseAsync(db, e, token)));
                // 2: the flag was set meanwhile, the lock kept: compute again. 1 released; 0 lost (expired): the computation still happened.
                pending = [.. round.Where((_, i) => released[i] == 2)];
            }
            done = true;
            return handedOff;
        }
        finally
        {
            if (!done) await Task.WhenAll(mine.Select(e => ReleaseQuietlyAsync(db, LockKey(e.EntityType, e.Id), token)));
        }
    }

    async Task<int> ReleaseAsync(IDatabase db, SummaryEntity e, string token)
    {
        RedisKey lockKey = LockKey(e.EntityType, e.Id);
        try
        {
            return (int)await db.ScriptEvaluateAsync(ReleaseScript, [lockKey, DirtyKey(e.EntityType, e.Id)], [token, (long)LockExpiry.TotalMilliseconds]);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // The lock expires by itself; the computation is done.
            logger.LogWarning(ex, "Could not release the summary lock {Key}", lockKey);
            return 1;
        }
    }

    /// <summary>
    /// Runs one computation while extending its locks every third of their expiry (token-checked), so a computation
    /// that outlasts the expiry is still never joined by a second one.
    /// </summary>
    async Task ComputeHoldingAsync(
        IDatabase db, IReadOnlyList<SummaryEntity> held, string token, Func<CancellationToken, Task> compute, CancellationToken ct)
    {
        using var computing = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var work = compute(ct);
        while (await Task.WhenAny(work, Task.Delay(LockExpiry / 3, computing.Token)) != work)
        {
            try
            {
                await Task.WhenAll(held.Select(e =>
                    db.ScriptEvaluateAsync(RenewScript, [LockKey(e.EntityType, e.Id)], [token, (long)LockExpiry.TotalMilliseconds])));
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                logger.LogWarning(e, "Could not extend {Count} summary lock(s); the computation goes on", held.Count);
            }
        }
        await computing.CancelAsync();
        await work;
    }

    Task<bool> TryAcquireAsync(IDatabase db, SummaryEntity e, string token) =>
        TryAcquireAsync(db, LockKey(e.EntityType, e.Id), DirtyKey(e.EntityType, e.Id), token);

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
