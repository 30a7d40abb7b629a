using System.Diagnostics;
using Cdp.Shared.Events;
using Cdp.Shared.Operations.Overview;
using Cdp.Shared.Telemetry;
using Microsoft.Extensions.Options;

namespace Cdp.Shared.Customers;

/// <summary>
/// The customer-360 reads (seed 003 flow 4): through the Redis cache, and on a miss Postgres and ClickHouse at once.
/// ClickHouse failing or slower than its timeout leaves the behaviour out and marks the view partial; the rest answers.
/// Views come back as their JSON (<see cref="CachedView"/>): a hit is served as Redis holds it. <c>masked</c>: the
/// view as a caller without pii:reveal sees it (the cache keeps that form under a key of its own).
/// </summary>
public sealed class CustomerViews(
    AccountReads accounts, ContactReads contacts, LeadReads leads, BehaviourQueries behaviour, CustomerViewCache cache,
    IOptions<CustomerViewOptions> options, OpsRecorder? ops = null)
{
    readonly CustomerViewOptions settings = options.Value;
    int loads;

    /// <summary>How many views were built from the databases (the cache's misses); the stampede tests count it.</summary>
    internal int Loads => Volatile.Read(ref loads);

    public Task<AccountDetails?> AccountAsync(Guid id, CancellationToken ct) => accounts.DetailsAsync(id, ct);

    public Task<CachedView?> Account360Async(Guid id, bool masked) => GetAsync(CustomerRef.Account(id), masked, BehaviourSubject.Account,
        () => accounts.Read360Async(id, settings.ListLimit, settings.TouchpointLimit, CancellationToken.None),
        (view, counts) => view with { Behaviour = counts, Partial = counts is null }, view => view.Masked(), view => view.Partial);

    public Task<CachedView?> Contact360Async(Guid id, bool masked) => GetAsync(CustomerRef.Contact(id), masked, BehaviourSubject.Contact,
        () => contacts.Read360Async(id, settings.ListLimit, settings.TouchpointLimit, CancellationToken.None),
        (view, counts) => view with { Behaviour = counts, Partial = counts is null }, view => view.Masked(), view => view.Partial);

    /// <summary>The contact of a WeCom external userid, followed by <paramref name="follower"/> when one is named.</summary>
    public Task<Guid?> ContactIdByExternalUserAsync(string externalUserId, string? follower, CancellationToken ct) =>
        contacts.IdByExternalUserAsync(externalUserId, follower, ct);

    public Task<CachedView?> LeadAsync(Guid id, bool masked) => GetAsync(CustomerRef.Lead(id), masked, BehaviourSubject.Lead,
        () => leads.GetAsync(id, CancellationToken.None),
        (view, counts) => view with { Behaviour = counts, Partial = counts is null }, view => view.Masked(), view => view.Partial);

    // A load is shared by every caller waiting for the same key, so no caller's cancellation may end it; the
    // ClickHouse timeout and the Postgres command timeout bound it instead.
    Task<CachedView?> GetAsync<T>(
        CustomerRef customer, bool masked, BehaviourSubject subject, Func<Task<T?>> read, Func<T, BehaviourCounts?, T> withBehaviour,
        Func<T, T> mask, Func<T, bool> isPartial) where T : class =>
        Timed(customer, () => cache.GetOrLoadAsync(customer, masked, async () =>
        {
            Interlocked.Increment(ref loads);
            var counts = behaviour.CountsByTypeAsync(subject, customer.Id, settings.BehaviourDays, CancellationToken.None);
            var stored = await read();
            var byType = await counts;
            return stored is null ? null : withBehaviour(stored, byType is null ? null : new BehaviourCounts(settings.BehaviourDays, byType));
        }, mask, isPartial));

    /// <summary>
    /// One measurement of the answer (time, cache hit or miss) into both places that read it: the OpenTelemetry
    /// instruments and the per-minute rollup (ops_minute) behind the overview and the P99 alert.
    /// </summary>
    async Task<CachedView?> Timed(CustomerRef customer, Func<Task<CachedView?>> view)
    {
        var started = Stopwatch.GetTimestamp();
        var result = await view();
        if (result is null) return null;
        var elapsed = Stopwatch.GetElapsedTime(started);
        var kind = new KeyValuePair<string, object?>("entity_type", customer.Kind);
        CdpTelemetry.ViewLatency.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("cached", result.Cached), kind);
        (result.Cached ? CdpTelemetry.CacheHits : CdpTelemetry.CacheMisses).Add(1, kind);
        ops?.Record(OpsMetrics.ViewLatency, result.Cached ? "cached" : "uncached", elapsed.TotalMilliseconds);
        ops?.Record(OpsMetrics.ViewCache, result.Cached ? "hit" : "miss", 1);
        return result;
    }
}
