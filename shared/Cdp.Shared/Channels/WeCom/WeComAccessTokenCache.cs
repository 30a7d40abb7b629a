namespace Cdp.Shared.Channels.WeCom;

/// <summary>
/// Holds the access token for the process (the typed client is transient, the token must not be). Concurrent
/// callers share one fetch: WeCom rate-limits gettoken and every fetch invalidates nothing, but wastes quota.
/// </summary>
public sealed class WeComAccessTokenCache(TimeProvider time)
{
    private sealed record Entry(string Token, DateTimeOffset RefreshAt);

    private readonly SemaphoreSlim _gate = new(1, 1);
    private volatile Entry? _current;

    internal async Task<string> GetAsync(
        Func<CancellationToken, Task<(string Token, TimeSpan ExpiresIn)>> fetch, TimeSpan margin, CancellationToken cancellationToken)
    {
        if (Fresh() is { } token)
        {
            return token;
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Fresh() is { } fetched)
            {
                return fetched;
            }

            var (newToken, expiresIn) = await fetch(cancellationToken).ConfigureAwait(false);
            // A lifetime shorter than the margin would never be fresh; keep such a token for half its life instead.
            var keep = expiresIn > margin * 2 ? expiresIn - margin : expiresIn / 2;
            _current = new Entry(newToken, time.GetUtcNow() + keep);
            return newToken;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Drops <paramref name="token"/> if it is still the cached one (another caller may have refreshed it).</summary>
    internal void Invalidate(string token)
    {
        var current = _current;
        if (current is not null && current.Token == token)
        {
            Interlocked.CompareExchange(ref _current, null, current);
        }
    }

    private string? Fresh()
    {
        var current = _current;
        return current is not null && time.GetUtcNow() < current.RefreshAt ? current.Token : null;
    }
}
