namespace Cdp.Shared.Access;

/// <summary>Settings under <c>Auth:</c> (API.md).</summary>
public sealed class AccessOptions
{
    public const string Section = "Auth";

    /// <summary>Signs session tokens (HMAC-SHA256). At least 32 bytes; Key Vault on Azure.</summary>
    public string SessionKey { get; set; } = "";

    /// <summary>An admin key from configuration for the first setup of a fresh install; unset afterwards.</summary>
    public string? BootstrapAdminKey { get; set; }

    /// <summary>Origins (scheme://host[:port]) browsers may call the API from (CORS), beside publishable keys' own.</summary>
    public string[] AllowedOrigins { get; set; } = [];

    /// <summary>How long a session lasts; inside WeCom sign-in is silent, so a short one costs nothing.</summary>
    public TimeSpan SessionLifetime { get; set; } = TimeSpan.FromHours(2);

    /// <summary>Send the session cookie with Secure (required off loopback; plain http on 127.0.0.1 in development).</summary>
    public bool SecureCookies { get; set; } = true;

    public IEnumerable<string> Validate()
    {
        if (System.Text.Encoding.UTF8.GetByteCount(SessionKey) < 32) yield return $"{Section}:SessionKey must be at least 32 bytes.";
        if (BootstrapAdminKey is { Length: > 0 and < 32 }) yield return $"{Section}:BootstrapAdminKey must be at least 32 characters.";
        if (SessionLifetime <= TimeSpan.Zero || SessionLifetime > TimeSpan.FromDays(1)) yield return $"{Section}:SessionLifetime must be between 0 and 1 day.";
    }
}
