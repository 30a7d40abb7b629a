using System.Text;

namespace Cdp.Shared.Cleansing;

/// <summary>
/// Mainland China mobile numbers. Identity matching keys on the mobile, so every channel's spelling
/// ("+86 138-1234-5678", "0086 13812345678", full-width digits) must end up as the same 11 digits.
/// </summary>
public static class MobileNumber
{
    /// <summary>
    /// Canonical form is the bare 11 digits, e.g. "13812345678". Absent input is not invalid: it returns true
    /// with a null canonical value.
    /// </summary>
    public static bool TryNormalize(string? raw, out string? canonical) => TryNormalize(raw, out canonical, out _);

    /// <summary>As <see cref="TryNormalize(string?, out string?)"/>, with a reason that never repeats the number.</summary>
    public static bool TryNormalize(string? raw, out string? canonical, out string? problem)
    {
        canonical = null;
        problem = null;
        var text = TextNormalizer.Normalize(raw);
        if (text is null)
        {
            return true;
        }

        var digits = new StringBuilder(text.Length);
        var plus = false;
        foreach (var c in text)
        {
            if (char.IsAsciiDigit(c))
            {
                digits.Append(c);
            }
            else if (c == '+' && digits.Length == 0 && !plus)
            {
                plus = true;
            }
            else if (!IsSeparator(c))
            {
                problem = "contains characters other than digits, +, spaces, dashes, dots or parentheses";
                return false;
            }
        }

        var number = digits.ToString();
        // Only the country code is stripped, and only when what is left has mobile length, so that a landline
        // such as 0861234567 is not mistaken for a prefixed mobile.
        if (number.Length == 15 && number.StartsWith("0086", StringComparison.Ordinal))
        {
            number = number[4..];
        }
        else if (number.Length == 13 && number.StartsWith("86", StringComparison.Ordinal))
        {
            number = number[2..];
        }
        else if (plus)
        {
            problem = "has a country code other than +86; only mainland mobile numbers are accepted";
            return false;
        }

        if (!IsMainlandMobile(number))
        {
            problem = Describe(number);
            return false;
        }

        canonical = number;
        return true;
    }

    /// <summary>"138****5678" for logs and UIs (PIPL): enough to recognise a number, not enough to call it.</summary>
    public static string? Mask(string? value)
    {
        var text = TextNormalizer.Normalize(value);
        if (text is null)
        {
            return null;
        }

        if (TryNormalize(text, out var canonical) && canonical is not null)
        {
            return string.Concat(canonical.AsSpan(0, 3), "****", canonical.AsSpan(7));
        }

        // An invalid value can still be a real number with a typo, so it is masked just as hard.
        var digits = new string(text.Where(char.IsAsciiDigit).ToArray());
        return digits.Length >= 8
            ? string.Concat(digits.AsSpan(0, 3), new string('*', digits.Length - 7), digits.AsSpan(digits.Length - 4))
            : "****";
    }

    private static bool IsMainlandMobile(string number) =>
        number.Length == 11 && number[0] == '1' && number[1] is >= '3' and <= '9' && number.All(char.IsAsciiDigit);

    private static bool IsSeparator(char c) =>
        c is ' ' or '-' or '.' or '(' or ')' or '\u2010' or '\u2011' or '\u2012' or '\u2013' or '\u2014' or '\u2212';

    private static string Describe(string number)
    {
        if (number.Length == 0)
        {
            return "contains no digits";
        }

        if (number[0] == '0')
        {
            return "starts with 0, which looks like a landline with area code; put it in the phone field";
        }

        if (number.Length != 11)
        {
            return $"has {number.Length} digits; a mainland mobile has 11";
        }

        return "must start with 13 to 19";
    }
}
