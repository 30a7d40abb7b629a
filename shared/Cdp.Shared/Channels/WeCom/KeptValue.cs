namespace Cdp.Shared.Channels.WeCom;

/// <summary>
/// A value the process keeps until a moment (an access token, the corp tag list): concurrent callers share one fetch,
/// the others wait for it and take its result. The typed WeCom client is transient, so what it fetches lives here.
/// </summary>
public sealed class KeptValue<T>(TimeProvider time) where T : class
{
    sealed record Entry(T Value, DateTimeOffset Until);

    readonly SemaphoreSlim refresh = new(1, 1);
    volatile Entry? current;

    /// <param name="fetch">The value and how long to keep it.</param>
    public async Task<T> GetAsync(Func<CancellationToken, Task<(T Value, TimeSpan Keep)>> fetch, CancellationToken ct)
    {
        if (Fresh() is { } kept) return kept;
        await refresh.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (Fresh() is { } fetchedMeanwhile) return fetchedMeanwhile;
            var (value, keep) = await fetch(ct).ConfigureAwait(false);
            current = new Entry(value, time.GetUtcNow() + keep);
            return value;
        }
        finally
        {
            refresh.Release();
        }
    }

    /// <summary>Drops <paramref name="value"/> if it is still the kept one (another caller may have refreshed it).</summary>
    public void Invalidate(T value)
    {
        var entry = current;
        if (entry is not null && EqualityComparer<T>.Default.Equals(entry.Value, value))
            Interlocked.CompareExchange(ref current, null, entry);
    }

    /// <summary>
    /// How long to keep something WeCom says expires in <paramref name="expiresIn"/>: that less <paramref name="margin"/>,
    /// so it is replaced before it expires; a lifetime shorter than twice the margin is kept for half its length.
    /// </summary>
    public static TimeSpan LessMargin(TimeSpan expiresIn, TimeSpan margin) => expiresIn > margin * 2 ? expiresIn - margin : expiresIn / 2;

    T? Fresh() => current is { } entry && time.GetUtcNow() < entry.Until ? entry.Value : null;
}
