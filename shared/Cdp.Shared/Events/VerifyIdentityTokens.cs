using System.Security.Cryptography;
using System.Text;

namespace Cdp.Shared.Events;

/// <summary>
/// A publishable key sits in a web page, so anyone can post events with it; its contactId/leadId/accountId would let
/// them write touchpoints into any customer they can name. Such ids count only when the event carries the website
/// backend's identityToken for its userId: lowercase hex of HMAC-SHA256(key = Events:SiteSecret, message = userId), both
/// UTF-8. An event without it is still stored, for its userId only. Pure.
/// </summary>
public static class VerifyIdentityTokens
{
    public static string Token(string siteSecret, string userId) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(siteSecret), Encoding.UTF8.GetBytes(userId)));

    /// <summary>Constant time over the token's bytes; either hex case; false without a secret.</summary>
    public static bool IsValid(string? siteSecret, string userId, string? token)
    {
        if (string.IsNullOrEmpty(siteSecret) || token is not { Length: 2 * HMACSHA256.HashSizeInBytes }) return false;
        byte[] given;
        try
        {
            given = Convert.FromHexString(token);
        }
        catch (FormatException)
        {
            return false;
        }
        var expected = HMACSHA256.HashData(Encoding.UTF8.GetBytes(siteSecret), Encoding.UTF8.GetBytes(userId));
        return CryptographicOperations.FixedTimeEquals(expected, given);
    }

    /// <summary>The events with the entity ids of those without a valid token removed, and how many lost them.</summary>
    public static (IReadOnlyList<ValidEvent> Events, int Untrusted) Apply(IReadOnlyList<ValidEvent> events, string? siteSecret)
    {
        var untrusted = 0;
        var result = new List<ValidEvent>(events.Count);
        foreach (var e in events)
        {
            if (!e.NamesAnEntity || IsValid(siteSecret, e.UserId, e.IdentityToken))
            {
                result.Add(e);
                continue;
            }
            untrusted++;
            result.Add(e with { ContactId = null, LeadId = null, AccountId = null });
        }
        return (result, untrusted);
    }
}
