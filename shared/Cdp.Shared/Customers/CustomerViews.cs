using Cdp.Shared.Events;
using Microsoft.Extensions.Options;

namespace Cdp.Shared.Customers;

/// <summary>
/// The customer-360 reads (seed 003 flow 4): through the Redis cache, and on a miss Postgres and ClickHouse at once.
/// ClickHouse failing or slower than its timeout leaves the behaviour out and marks the view partial; the rest answers.
/// </summary>
public sealed class CustomerViews(
    AccountReads accounts, ContactReads contacts, LeadReads leads, BehaviourQueries behaviour, CustomerViewCache cache,
    IOptions<CustomerViewOptions> options)
{
    readonly CustomerViewOptions settings = options.Value;
    int loads;

    /// <summary>How many views were built from the databases (the cache's misses); the stampede tests count it.</summary>
    internal int Loads => Volatile.Read(ref loads);

    public Task<AccountDetails?> AccountAsync(Guid id, CancellationToken ct) => accounts.DetailsAsync(id, ct);

    public Task<Account360?> Account360Async(Guid id) => GetAsync(CustomerRef.Account(id), BehaviourSubject.Account,
        () => accounts.Read360Async(id, settings.ListLimit, settings.TouchpointLimit, CancellationToken.None),
        (view, counts) => view with { Behaviour = counts, Partial = counts is null },
        view => view.Partial, (view, cached) => view with { Cached = cached });

    public Task<Contact360?> Contact360Async(Guid id) => GetAsync(CustomerRef.Contact(id), BehaviourSubject.Contact,
        () => contacts.Read360Async(id, settings.ListLimit, settings.TouchpointLimit, CancellationToken.None),
        (view, counts) => view with { Behaviour = counts, Partial = counts is null },
        view => view.Partial, (view, cached) => view with { Cached = cached });

    public Task<LeadDetails?> LeadAsync(Guid id) => GetAsync(CustomerRef.Lead(id), BehaviourSubject.Lead,
        () => leads.GetAsync(id, CancellationToken.None),
        (view, counts) => view with { Behaviour = counts, Partial = counts is null },
        view => view.Partial, (view, cached) => view with { Cached = cached });

    // A load is shared by every caller waiting for the same key, so no caller's cancellation may end it; the
    // ClickHouse timeout and the Postgres command timeout bound it instead.
    async Task<T?> GetAsync<T>(
        CustomerRef customer, BehaviourSubject subject, Func<Task<T?>> read, Func<T, BehaviourCounts?, T> withBehaviour,
        Func<T, bool> isPartial, Func<T, bool, T> withCached) where T : class
    {
        var (view, cached) = await cache.GetOrLoadAsync(customer, async () =>
        {
            Interlocked.Increment(ref loads);
            var counts = behaviour.CountsByTypeAsync(subject, customer.Id, settings.BehaviourDays, CancellationToken.None);
            var stored = await read();
            var byType = await counts;
            return stored is null ? null : withBehaviour(stored, byType is null ? null : new BehaviourCounts(settings.BehaviourDays, byType));
        }, isPartial);
        return view is null ? null : withCached(view, cached);
    }
}
