namespace Cdp.Shared.Cleansing;

/// <summary>
/// Email addresses as a matching key. The whole address is lower-cased: RFC 5321 lets the local part be
/// case-sensitive, but no mailbox provider our customers use (QQ, 163, Exmail, Outlook) treats it so, and a
/// case-sensitive key would split one person into two.
/// </summary>
public static class EmailAddress
{
    private const int MaxLocalLength = 64;
    private const int MaxAddressLength = 254;
    private const int MaxLabelLength = 63;
    private const string LocalSpecials = "!#$%&'*+/=?^_`{|}~-.";

    /// <summary>Canonical lower-case address. Absent input returns true with a null canonical value.</summary>
    public static bool TryNormalize(string? raw, out string? canonical) => TryNormalize(raw, out canonical, out _);

    /// <summary>As <see cref="TryNormalize(string?, out string?)"/>, with a reason that never repeats the address.</summary>
    public static bool TryNormalize(string? raw, out string? canonical, out string? problem)
    {
        canonical = null;
        problem = null;
        var text = TextNormalizer.Normalize(raw);
        if (text is null)
        {
            return true;
        }

        // Chinese input methods type the ideographic full stop for '.', as in "zhang@qq。com".
        text = text.Replace('\u3002', '.').Replace('\uFF61', '.').ToLowerInvariant();
        problem = Check(text);
        if (problem is not null)
        {
            return false;
        }

        canonical = text;
        return true;
    }

    /// <summary>"z***@example.com": the domain stays readable for support, the mailbox does not.</summary>
    public static string? Mask(string? value)
    {
        var text = TextNormalizer.Normalize(value);
        if (text is null)
        {
            return null;
        }

        TryNormalize(text, out var canonical);
        var address = canonical ?? text;
        var at = address.LastIndexOf('@');
        return at <= 0 ? "***" : string.Concat(address.AsSpan(0, 1), "***", address.AsSpan(at));
    }

    private static string? Check(string address)
    {
        if (address.Contains(' '))
        {
            return "contains a space";
        }

        var at = address.IndexOf('@');
        if (at < 0)
        {
            return "has no @";
        }

        if (address.IndexOf('@', at + 1) >= 0)
        {
            return "has more than one @";
        }

        if (address.Length > MaxAddressLength)
        {
            return $"is longer than {MaxAddressLength} characters";
        }

        return CheckLocal(address[..at]) ?? CheckDomain(address[(at + 1)..]);
    }

    private static string? CheckLocal(string local)
    {
        if (local.Length == 0)
        {
            return "has nothing before the @";
        }

        if (local.Length > MaxLocalLength)
        {
            return $"has more than {MaxLocalLength} characters before the @";
        }

        if (local[0] == '.' || local[^1] == '.')
        {
            return "starts or ends the part before the @ with a dot";
        }

        if (local.Contains("..", StringComparison.Ordinal))
        {
            return "has two dots in a row";
        }

        // Quoted local parts are legal but unused in practice and mostly a sign of a broken export.
        return local.All(c => char.IsAsciiLetterOrDigit(c) || LocalSpecials.Contains(c))
            ? null
            : "has a character that is not allowed before the @";
    }

    private static string? CheckDomain(string domain)
    {
        if (domain.Length == 0)
        {
            return "has nothing after the @";
        }

        var labels = domain.Split('.');
        if (labels.Length < 2)
        {
            return "has a domain without a dot";
        }

        foreach (var label in labels)
        {
            if (label.Length == 0)
            {
                return "has an empty part in the domain (two dots in a row, or a leading or trailing dot)";
            }

            if (label.Length > MaxLabelLength || label[0] == '-' || label[^1] == '-'
                || !label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'))
            {
                return "has a domain that is not letters, digits and hyphens";
            }
        }

        // A numeric top-level label means an IP address or a typo; no mail is delivered to either.
        return labels[^1].All(char.IsAsciiDigit) ? "has a domain that ends in a number" : null;
    }
}
