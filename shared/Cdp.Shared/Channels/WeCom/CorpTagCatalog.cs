namespace Cdp.Shared.Channels.WeCom;

/// <summary>
/// The corp tag list the sidebar's picker shows, kept for <see cref="Fresh"/> per process: every sidebar open would
/// otherwise ask WeCom, whose get_corp_tag_list is rate-limited per corp. One fetch at a time refreshes it.
/// </summary>
public sealed class CorpTagCatalog(TimeProvider clock)
{
    public static readonly TimeSpan Fresh = TimeSpan.FromMinutes(1);

    readonly KeptValue<IReadOnlyList<WeComTagGroup>> groups = new(clock);

    /// <param name="wecom">The caller's client (a typed HttpClient, so not held here).</param>
    public Task<IReadOnlyList<WeComTagGroup>> GetAsync(WeComApiClient wecom, CancellationToken ct) =>
        groups.GetAsync(async c => (await wecom.GetCorpTagListAsync(c), Fresh), ct);
}
