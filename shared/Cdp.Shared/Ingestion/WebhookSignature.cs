using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Cdp.Shared.Ingestion;

public enum SignatureCheck { Valid, Missing, Stale, Invalid }

/// <summary>
/// Stripe-style webhook signing: hex HMAC-SHA256(secret, timestamp + "." + raw body), timestamp in unix seconds
/// within a tolerance. Compared in constant time. Replays inside the window are caught by ingestion dedup.
/// </summary>
public static class WebhookSignature
{
    public static string Compute(string secret, string timestamp, ReadOnlySpan<byte> body)
    {
        var prefix = Encoding.UTF8.GetBytes(timestamp + ".");
        var message = new byte[prefix.Length + body.Length];
        prefix.CopyTo(message, 0);
        body.CopyTo(message.AsSpan(prefix.Length));
        return Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), message));
    }

    public static SignatureCheck Verify(string secret, string? timestamp, string? signature, ReadOnlySpan<byte> body,
        DateTimeOffset now, TimeSpan tolerance) => Verify([secret], timestamp, signature, body, now, tolerance);

    /// <summary>Valid when the signature matches any of <paramref name="secrets"/> (a channel's current and previous
    /// secret during a rotation); every secret is compared, each in constant time.</summary>
    public static SignatureCheck Verify(IReadOnlyList<string> secrets, string? timestamp, string? signature, ReadOnlySpan<byte> body,
        DateTimeOffset now, TimeSpan tolerance)
    {
        if (string.IsNullOrWhiteSpace(timestamp) || string.IsNullOrWhiteSpace(signature)) return SignatureCheck.Missing;
        if (!long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)) return SignatureCheck.Invalid;
        if (Math.Abs(now.ToUnixTimeSeconds() - seconds) > tolerance.TotalSeconds) return SignatureCheck.Stale;

        var given = Encoding.ASCII.GetBytes(signature.Trim().ToLowerInvariant());
        var valid = false;
        foreach (var secret in secrets)
            valid |= CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Compute(secret, timestamp, body)), given);
        return valid ? SignatureCheck.Valid : SignatureCheck.Invalid;
    }
}
