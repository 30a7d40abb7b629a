using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cdp.Shared.Access;

/// <summary>
/// The web origins browsers may call from (CORS): the configured <see cref="AccessOptions.AllowedOrigins"/>, and the
/// origins of live publishable keys, read from Postgres and kept per process: an origin found stays allowed for
/// <see cref="AccessOptions.PublishableOriginsCacheTtl"/> (so a revoked key's origin stops within it, and preflights cost
/// no query), an origin not found is looked up again after a second (so a key made on another process works at once).
/// Creating or revoking a key forgets the set in the process that did it.
/// </summary>
public sealed class BrowserOrigins(IOptions<AccessOptions> options, ApiKeys keys, ILogger<BrowserOrigins> logger)
{
    sealed record Snapshot(IReadOnlySet<string> Origins, long ReadAt);

    static readonly IReadOnlySet<string> None = new HashSet<string>();
    static readonly TimeSpan MissTtl = TimeSpan.FromSeconds(1);

    readonly SemaphoreSlim reading = new(1, 1);
    volatile Snapshot? snapshot;

    public IReadOnlyList<string> Configured => options.Value.AllowedOrigins;

    /// <summary>scheme://host[:port] over http(s), nothing after it: what a browser sends as Origin.</summary>
    public static bool IsOrigin(string text) =>
        Uri.TryCreate(text, UriKind.Absolute, out var u) && u.Scheme is ("https" or "http") && u.PathAndQuery == "/" && !text.EndsWith('/');

    public void Forget() => snapshot = null;

    /// <summary>The live publishable keys' origins, read recently enough to decide about <paramref name="origin"/>.</summary>
    public async Task<IReadOnlySet<string>> PublishableAsync(string origin, CancellationToken ct)
    {
        if (FreshFor(snapshot, origin) is { } known) return known;
        await reading.WaitAsync(ct);
        try
        {
            if (FreshFor(snapshot, origin) is { } readMeanwhile) return readMeanwhile;
            var previous = snapshot;
            try
            {
                var origins = await keys.LivePublishableOriginsAsync(ct);
                snapshot = new Snapshot(origins, Environment.TickCount64);
                return origins;
            }
            catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException or System.Net.Sockets.SocketException)
            {
                // Keep what was known for another period rather than query on every request of an outage; the POST itself
                // fails without Postgres anyway.
                logger.LogWarning(e, "Could not read the origins of publishable keys; keeping the {Count} known", previous?.Origins.Count ?? 0);
                snapshot = new Snapshot(previous?.Origins ?? None, Environment.TickCount64);
                return snapshot.Origins;
            }
        }
        finally
        {
            reading.Release();
        }
    }

    IReadOnlySet<string>? FreshFor(Snapshot? s, string origin)
    {
        if (s is null) return null;
        var ttl = options.Value.PublishableOriginsCacheTtl;
        var maxAge = s.Origins.Contains(origin) ? ttl : (ttl < MissTtl ? ttl : MissTtl);
        return Environment.TickCount64 - s.ReadAt < maxAge.TotalMilliseconds ? s.Origins : null;
    }
}
