using System.Text;

namespace Cdp.Shared.Cleansing;

/// <summary>
/// The unified social credit code (统一社会信用代码, GB 32100-2015): the one identifier every mainland
/// organisation has, so the strongest key for matching accounts. The check character catches most typos, but
/// some codes issued in the first years fail it and are real: the strict overloads refuse such a code, the
/// overload with <c>verified</c> keeps it and says it is unverified (identity never merges on it alone).
/// </summary>
public static class CreditCode
{
    /// <summary>Values 0..30 in this order; I, O, S, V and Z are left out because they read like 1, 0, 5, U and 2.</summary>
    public const string Alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";

    public const int Length = 18;

    // 3^(i-1) mod 31 for positions 1..17.
    private static readonly int[] Weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

    /// <summary>Canonical 18 upper-case characters. Absent input returns true with a null canonical value.</summary>
    public static bool TryNormalize(string? raw, out string? canonical) => TryNormalize(raw, out canonical, out _);

    /// <summary>As <see cref="TryNormalize(string?, out string?)"/>, with a reason a person can act on.</summary>
    public static bool TryNormalize(string? raw, out string? canonical, out string? problem)
    {
        if (TryNormalize(raw, out canonical, out problem, out var verified) && verified) return true;
        canonical = null;
        return false;
    }

    /// <summary>
    /// As <see cref="TryNormalize(string?, out string?, out string?)"/>, but a code of the right shape whose check
    /// character does not verify is accepted with <paramref name="verified"/> false (and the reason in
    /// <paramref name="problem"/>). Absent input: true, null, verified.
    /// </summary>
    public static bool TryNormalize(string? raw, out string? canonical, out string? problem, out bool verified)
    {
        canonical = null;
        problem = null;
        verified = true;
        var text = TextNormalizer.Normalize(raw);
        if (text is null)
        {
            return true;
        }

        // People group the code for readability ("9111 0000 ...") or copy it with dashes from PDFs.
        var sb = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            if (c is not (' ' or '-' or '\u2010' or '\u2013' or '\u2014'))
            {
                sb.Append(char.ToUpperInvariant(c));
            }
        }

        var code = sb.ToString();
        if (code.Length != Length)
        {
            problem = $"has {code.Length} characters; a unified social credit code has {Length}";
            return false;
        }

        var bad = code.FirstOrDefault(c => !Alphabet.Contains(c));
        if (bad != default)
        {
            problem = "IOSVZ".Contains(bad)
                ? $"contains the letter {bad}, which credit codes never use (did you mean a digit?)"
                : "contains a character other than digits and the letters credit codes use";
            return false;
        }

        if (ComputeCheckCharacter(code[..17]) != code[17])
        {
            problem = "has a wrong check character (last character); the code may have a typo";
            verified = false;
        }

        canonical = code;
        return true;
    }

    /// <summary>
    /// The 18th character for 17 canonical characters: (31 - Σ value·weight mod 31) mod 31, read in
    /// <see cref="Alphabet"/>. Public so callers and tests can build valid codes.
    /// </summary>
    /// <exception cref="ArgumentException">Not 17 characters of <see cref="Alphabet"/>.</exception>
    public static char ComputeCheckCharacter(string first17)
    {
        ArgumentNullException.ThrowIfNull(first17);
        if (first17.Length != Length - 1)
        {
            throw new ArgumentException($"Expected {Length - 1} characters, got {first17.Length}.", nameof(first17));
        }

        var sum = 0;
        for (var i = 0; i < first17.Length; i++)
        {
            var value = Alphabet.IndexOf(first17[i], StringComparison.Ordinal);
            if (value < 0)
            {
                throw new ArgumentException($"Character {i + 1} is not in the credit code alphabet.", nameof(first17));
            }

            sum += value * Weights[i];
        }

        return Alphabet[(31 - (sum % 31)) % 31];
    }
}
