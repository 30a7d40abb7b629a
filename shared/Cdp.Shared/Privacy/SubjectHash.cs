using System.Security.Cryptography;
using System.Text;
using Cdp.Shared.Access;
using Microsoft.Extensions.Configuration;

namespace Cdp.Shared.Privacy;

/// <summary>
/// Keyed hashes (HMAC-SHA256) that stand in for personal identifiers where a stable id serves: the SDK's userId in
/// ClickHouse and on the event-stream, and the subject of a privacy request in the audit trail. Unlike the log hash
/// (<see cref="PiiHash"/>, random per process when unset) this key must stay the same across processes and restarts:
/// it is <c>Logging:PiiHashKey</c> when set, else derived from <c>Auth:SessionKey</c> (every install has its own).
/// Changing the key leaves events stored before under their old user hash; erasure still finds them by contact and lead.
/// </summary>
public sealed class SubjectHash
{
    const string UserPrefix = "u_";
    readonly byte[] key;
    // One keyed HMAC per thread, reset after each use: the one-shot HashData sets up a new keyed context every call,
    // which was most of its cost at a thousand events per request.
    readonly ThreadLocal<IncrementalHash> hmac;

    public SubjectHash(IConfiguration configuration)
    {
        var configured = configuration[PiiHash.SettingName];
        key = !string.IsNullOrEmpty(configured)
            ? Encoding.UTF8.GetBytes(configured)
            : HMACSHA256.HashData(Encoding.UTF8.GetBytes(configuration["Auth:SessionKey"] ?? ""), "cdp-subject-hash-v1"u8);
        hmac = new(() => IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, key));
    }

    /// <summary>"u_" and 32 hex characters: what ClickHouse stores as user_id.</summary>
    public string UserId(string userId) => UserPrefix + Hex("user\n" + userId);

    /// <summary>True for a value <see cref="UserId"/> produced (rows written before hashing hold the raw id).</summary>
    public static bool IsUserHash(string value) =>
        value.Length == UserPrefix.Length + 32 && value.StartsWith(UserPrefix, StringComparison.Ordinal)
        && value.AsSpan(UserPrefix.Length).ContainsAnyExcept("0123456789abcdef") is false;

    /// <summary>"s_" and 32 hex characters: how audit rows and privacy requests name a person (normalised mobile and email).</summary>
    public string Subject(string? mobile, string? email) => "s_" + Hex("subject\n" + mobile + "\n" + email);

    string Hex(string value)
    {
        var h = hmac.Value!;
        h.AppendData(Encoding.UTF8.GetBytes(value));
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        h.GetHashAndReset(mac);
        return Convert.ToHexStringLower(mac[..16]);
    }
}
