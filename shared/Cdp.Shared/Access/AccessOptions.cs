namespace Cdp.Shared.Access;

/// <summary>Settings under <c>Auth:</c> (API.md).</summary>
public sealed class AccessOptions
{
    public const string Section = "Auth";

    /// <summary>Signs session tokens (HMAC-SHA256). At least 32 bytes; Key Vault on Azure.</summary>
    public string SessionKey { get; set; } = "";

    /// <summary>An admin key from configuration for the first setup of a fresh install; unset afterwards.</summary>
    public string? BootstrapAdminKey { get; set; }

    /// <summary>
    /// Origins (scheme://host[:port]) browsers may call every route from with the session cookie (CORS), e.g. the console
    /// served from another origin; publishable keys' own origins are allowed on /api/events only. Indexed
    /// (Auth__AllowedOrigins__0) or one comma-separated value.
    /// </summary>
    public string[] AllowedOrigins { get; set; } = [];

    /// <summary>How long a process reuses the set of origins live publishable keys allow: a revoked key's origin stops within this.</summary>
    public TimeSpan PublishableOriginsCacheTtl { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a session lasts; inside WeCom sign-in is silent, so a short one costs nothing.</summary>
    public TimeSpan SessionLifetime { get; set; } = TimeSpan.FromHours(2);

    /// <summary>Send the session cookie with Secure (required off loopback; plain http on 127.0.0.1 in development).</summary>
    public bool SecureCookies { get; set; } = true;

    public IEnumerable<string> Validate()
    {
        if (System.Text.Encoding.UTF8.GetByteCount(SessionKey) < StrongSecrets.MinBytes)
            yield return $"{Section}:SessionKey must be at least {StrongSecrets.MinBytes} bytes.";
        if (BootstrapAdminKey is { Length: > 0 } && BootstrapAdminKey.Length < StrongSecrets.MinBytes)
            yield return $"{Section}:BootstrapAdminKey must be at least {StrongSecrets.MinBytes} characters.";
        if (PublishableOriginsCacheTtl < TimeSpan.Zero || PublishableOriginsCacheTtl > TimeSpan.FromMinutes(10))
            yield return $"{Section}:PublishableOriginsCacheTtl must be between 0 and 10 minutes.";
        if (AllowedOrigins.FirstOrDefault(o => !BrowserOrigins.IsOrigin(o)) is { } bad)
            yield return $"{Section}:AllowedOrigins: '{bad}' is not an origin (scheme://host[:port]; '*' is never allowed).";
        if (SessionLifetime <= TimeSpan.Zero || SessionLifetime > TimeSpan.FromDays(1)) yield return $"{Section}:SessionLifetime must be between 0 and 1 day.";
    }
}
