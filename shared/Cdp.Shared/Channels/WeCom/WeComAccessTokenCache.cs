namespace Cdp.Shared.Channels.WeCom;

/// <summary>
/// Holds the access token for the process (the typed client is transient, the token must not be). Concurrent
/// callers share one fetch: WeCom rate-limits gettoken and every fetch invalidates nothing, but wastes quota.
/// </summary>
public sealed class WeComAccessTokenCache(TimeProvider time)
{
    readonly KeptValue<string> token = new(time);

    internal Task<string> GetAsync(
        Func<CancellationToken, Task<(string Token, TimeSpan ExpiresIn)>> fetch, TimeSpan margin, CancellationToken cancellationToken) =>
        token.GetAsync(async ct =>
        {
            var (fresh, expiresIn) = await fetch(ct).ConfigureAwait(false);
            return (fresh, KeptValue<string>.LessMargin(expiresIn, margin));
        }, cancellationToken);

    /// <summary>Drops <paramref name="stale"/> if it is still the cached one (another caller may have refreshed it).</summary>
    internal void Invalidate(string stale) => token.Invalidate(stale);
}
