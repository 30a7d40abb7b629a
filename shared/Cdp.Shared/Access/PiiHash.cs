using System.Security.Cryptography;
using System.Text;

namespace Cdp.Shared.Access;

/// <summary>
/// How a value that is or derives from personal data (a topic message key such as <c>lead:{mobile}</c>, a lock key,
/// an identifier) appears in logs: a short keyed hash (HMAC-SHA256, first 12 hex characters). The same value hashes
/// the same within one install, so log lines about one person can be correlated, but without the key nobody can
/// confirm a guessed phone number against a log. The key is <c>Logging:PiiHashKey</c>; without it, a random key per
/// process (correlation then holds only within one process's lifetime).
/// </summary>
public static class PiiHash
{
    public const string SettingName = "Logging:PiiHashKey";

    static byte[] key = RandomNumberGenerator.GetBytes(32);

    /// <summary>Uses <paramref name="configured"/> as the install's key; null or empty keeps the random per-process one.</summary>
    public static void UseKey(string? configured)
    {
        if (!string.IsNullOrEmpty(configured)) key = Encoding.UTF8.GetBytes(configured);
    }

    /// <summary>"h:" and 12 hex characters; null stays null.</summary>
    public static string? Of(string? value)
    {
        if (value is null) return null;
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(value), mac);
        return "h:" + Convert.ToHexStringLower(mac[..6]);
    }
}
