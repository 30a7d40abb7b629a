using System.Security.Cryptography;
using System.Text;

namespace Cdp.Shared.Access;

/// <summary>Comparing a presented secret (CSRF token, bootstrap key) without the timing of the compare telling how much of it was right.</summary>
public static class ConstantTime
{
    public static bool Equal(string? given, string expected) =>
        given is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), Encoding.UTF8.GetBytes(expected));
}
