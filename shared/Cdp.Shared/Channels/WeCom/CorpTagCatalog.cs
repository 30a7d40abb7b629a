namespace Cdp.Shared.Channels.WeCom;

/// <summary>
/// The corp tag list the sidebar's picker shows, kept for <see cref="Fresh"/> per process: every sidebar open would
/// otherwise ask WeCom, whose get_corp_tag_list is rate-limited per corp. One fetch at a time refreshes it.
/// </summary>
public sealed class CorpTagCatalog(TimeProvider clock)
{
    public static readonly TimeSpan Fresh = TimeSpan.FromMinutes(1);

    readonly SemaphoreSlim refresh = new(1, 1);
    (IReadOnlyList<WeComTagGroup> Groups, DateTimeOffset At)? cached;

    /// <param name="wecom">The caller's client (a typed HttpClient, so not held here).</param>
    public async Task<IReadOnlyList<WeComTagGroup>> GetAsync(WeComApiClient wecom, CancellationToken ct)
    {
        if (Current() is { } groups) return groups;
        await refresh.WaitAsync(ct);
        try
        {
            if (Current() is { } fetchedMeanwhile) return fetchedMeanwhile;
            var fresh = await wecom.GetCorpTagListAsync(ct);
            cached = (fresh, clock.GetUtcNow());
            return fresh;
        }
        finally
        {
            refresh.Release();
        }
    }

    IReadOnlyList<WeComTagGroup>? Current() => cached is { } c && clock.GetUtcNow() - c.At < Fresh ? c.Groups : null;
}
