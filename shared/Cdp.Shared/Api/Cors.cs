using System.Globalization;
using Cdp.Shared.Access;
using Cdp.Shared.Events;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Cdp.Shared.Api;

/// <summary>What a browser on an allowed origin may do: the origin echoed (never *), and for a console origin the cookie too.</summary>
public sealed record CorsGrant(string Origin, string Methods, bool Credentials);

/// <summary>
/// CORS, decided in the core for both hosts (the Azure platform's own CORS setting stays off for this app, or it would
/// answer preflights before the core sees them). <see cref="ApiSurface.RunAsync"/> applies it to every answer; preflights
/// reach the core through <see cref="CorsRoutes.Preflight"/>, one OPTIONS route for every path.
/// </summary>
public static class Cors
{
    public const string AllowHeaders = "Authorization, Content-Type, " + SessionTokens.CsrfHeader;
    public const string ConsoleMethods = "GET, POST, PUT, DELETE";
    public const string EventsMethods = "POST";

    /// <summary>Answer headers a script may read: where a created thing is, when to retry, a WeCom ingestion's id.</summary>
    public const string ExposeHeaders = "Location, Retry-After, " + HttpRules.IngestionIdHeader + ", " + Paging.NextCursorHeader;

    /// <summary>Browsers reuse a preflight this long; a revoked key's origin fails at the POST meanwhile (no CORS header).</summary>
    public static readonly TimeSpan PreflightMaxAge = TimeSpan.FromMinutes(5);

    /// <summary>The one path publishable keys may be used on, and so the only one their origins are allowed on.</summary>
    public static bool ServesPublishableKeys(PathString path) =>
        path.Equals("/api/" + EventRoutes.EventsPath, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The decision, pure: a configured origin may call everything with the session cookie; a publishable key's origin
    /// only the events path and without credentials (the key travels in Authorization); anything else gets no CORS header.
    /// </summary>
    public static CorsGrant? Decide(string? origin, PathString path, IReadOnlyCollection<string> configured, IReadOnlySet<string> publishable)
    {
        if (string.IsNullOrEmpty(origin) || origin == "null") return null;
        if (configured.Contains(origin, StringComparer.OrdinalIgnoreCase)) return new CorsGrant(origin, ConsoleMethods, Credentials: true);
        if (ServesPublishableKeys(path) && publishable.Contains(origin)) return new CorsGrant(origin, EventsMethods, Credentials: false);
        return null;
    }

    public static bool IsPreflight(HttpRequest request) =>
        HttpMethods.IsOptions(request.Method) && request.Headers.ContainsKey("Access-Control-Request-Method");

    /// <summary>Adds the CORS headers the request's origin has earned (none for a foreign one, or when that cannot be decided).</summary>
    public static async Task ApplyAsync(HttpContext http)
    {
        var response = http.Response;
        response.Headers.Vary = "Origin";
        var origin = http.Request.Headers.Origin.FirstOrDefault();
        if (string.IsNullOrEmpty(origin)) return;
        CorsGrant? grant;
        try
        {
            var origins = http.RequestServices.GetRequiredService<BrowserOrigins>();
            // Postgres only for the events path, and only when the configured list did not already decide.
            var publishable = ServesPublishableKeys(http.Request.Path) && !origins.Configured.Contains(origin, StringComparer.OrdinalIgnoreCase)
                ? await origins.PublishableAsync(origin, http.RequestAborted)
                : new HashSet<string>();
            grant = Decide(origin, http.Request.Path, origins.Configured, publishable);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            http.RequestServices.GetService<ILoggerFactory>()?.CreateLogger("Cdp.Api").LogWarning(e, "CORS origins could not be decided; answering without CORS headers");
            return;
        }
        if (grant is null) return;

        response.Headers.AccessControlAllowOrigin = grant.Origin;
        if (grant.Credentials) response.Headers.AccessControlAllowCredentials = "true";
        if (IsPreflight(http.Request))
        {
            response.Headers.AccessControlAllowMethods = grant.Methods;
            response.Headers.AccessControlAllowHeaders = AllowHeaders;
            response.Headers.AccessControlMaxAge = ((int)PreflightMaxAge.TotalSeconds).ToString(CultureInfo.InvariantCulture);
        }
        else
        {
            response.Headers.AccessControlExposeHeaders = ExposeHeaders;
        }
    }
}

/// <summary>
/// Preflights: browsers send OPTIONS without credentials before a cross-origin request. One public route for every
/// path answers 204; the headers are whatever <see cref="Cors.ApplyAsync"/> granted the origin for that path.
/// </summary>
public static class CorsRoutes
{
    public const string PreflightPath = "{*path}";

    public static readonly ApiRoute Preflight = new(nameof(Preflight), ["OPTIONS"], PreflightPath, ApiRoute.Public,
        _ => Task.FromResult(Results.NoContent()));

    public static IEnumerable<ApiRoute> All => [Preflight];
}
