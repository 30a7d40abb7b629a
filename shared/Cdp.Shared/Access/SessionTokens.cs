using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace Cdp.Shared.Access;

/// <summary>
/// The console session: a short-lived token in an HttpOnly cookie, "payload.signature" in base64url, signed with
/// Auth:SessionKey. It names its subject (a staff member, or the API key an admin exchanged for it) and carries the CSRF
/// token; roles and keys are checked afresh on every request, so a revoked role or key loses access at once.
/// </summary>
public sealed class SessionTokens(IOptions<AccessOptions> options, TimeProvider clock)
{
    public const string Cookie = "cdp_session";
    public const string CsrfCookie = "cdp_csrf";
    public const string CsrfHeader = "X-Cdp-Csrf";

    /// <param name="Subject">"staff:&lt;userid&gt;", "key:&lt;key id&gt;" or "bootstrap" (the actor the audit trail records).</param>
    public sealed record Session(string Subject, string Csrf, DateTimeOffset ExpiresAt);

    public (string Token, Session Session) Issue(string subject)
    {
        var session = new Session(subject, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)), clock.GetUtcNow() + options.Value.SessionLifetime);
        var payload = Base64Url(JsonSerializer.SerializeToUtf8Bytes(new Payload(session.Subject, session.Csrf, session.ExpiresAt.ToUnixTimeSeconds())));
        return (payload + "." + Base64Url(Sign(payload)), session);
    }

    /// <summary>Null for a token that is malformed, forged or expired.</summary>
    public Session? Read(string? token)
    {
        if (token is null || token.Split('.') is not [var payload, var signature] || payload.Length > 2048) return null;
        byte[] given;
        try { given = FromBase64Url(signature); }
        catch (FormatException) { return null; }
        if (!CryptographicOperations.FixedTimeEquals(given, Sign(payload))) return null;
        try
        {
            var p = JsonSerializer.Deserialize<Payload>(FromBase64Url(payload));
            if (p is null || string.IsNullOrEmpty(p.U) || string.IsNullOrEmpty(p.C)) return null;
            var expires = DateTimeOffset.FromUnixTimeSeconds(p.E);
            return expires > clock.GetUtcNow() ? new Session(p.U, p.C, expires) : null;
        }
        catch (Exception e) when (e is JsonException or FormatException or ArgumentOutOfRangeException) { return null; }
    }

    /// <summary>Sets the HttpOnly session cookie and the readable CSRF cookie (SameSite=Lax; Secure off loopback).</summary>
    public void SetCookies(HttpResponse response, string token, Session session, bool secure)
    {
        var lifetime = session.ExpiresAt - clock.GetUtcNow();
        response.Cookies.Append(Cookie, token, new CookieOptions { HttpOnly = true, Secure = secure, SameSite = SameSiteMode.Lax, Path = "/", MaxAge = lifetime });
        response.Cookies.Append(CsrfCookie, session.Csrf, new CookieOptions { HttpOnly = false, Secure = secure, SameSite = SameSiteMode.Lax, Path = "/", MaxAge = lifetime });
    }

    public static void ClearCookies(HttpResponse response)
    {
        response.Cookies.Delete(Cookie, new CookieOptions { Path = "/" });
        response.Cookies.Delete(CsrfCookie, new CookieOptions { Path = "/" });
    }

    byte[] Sign(string payload) => HMACSHA256.HashData(Encoding.UTF8.GetBytes(options.Value.SessionKey), Encoding.ASCII.GetBytes(payload));

    sealed record Payload(string U, string C, long E);

    static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    static byte[] FromBase64Url(string text)
    {
        var s = text.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(s.PadRight(s.Length + (4 - s.Length % 4) % 4, '='));
    }
}
