using System.Globalization;
using System.Text;

namespace Cdp.Shared.Cleansing;

/// <summary>
/// The first step for every text field: Chinese input methods, Excel exports and copy-paste from web pages
/// leave full-width letters, ideographic spaces and invisible characters that make equal values compare unequal.
/// </summary>
public static class TextNormalizer
{
    /// <summary>
    /// Full-width ASCII to half-width, NFKC, invisible characters removed, every kind of whitespace collapsed to
    /// one space, trimmed. Whitespace-only or null input gives null, because an empty field means "not given".
    /// </summary>
    public static string? Normalize(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        // The explicit width fold does not depend on ICU; NFKC then catches the rest (half-width katakana,
        // compatibility ideographs, ligatures). NFKC throws on lone surrogates, so those are dropped first.
        var folded = FoldWidthAndDropInvisible(value);
        if (!folded.IsNormalized(NormalizationForm.FormKC))
        {
            folded = folded.Normalize(NormalizationForm.FormKC);
        }

        var sb = new StringBuilder(folded.Length);
        var pendingSpace = false;
        foreach (var c in folded)
        {
            if (char.IsWhiteSpace(c))
            {
                pendingSpace = sb.Length > 0;
                continue;
            }

            if (IsInvisible(c) || char.IsControl(c))
            {
                continue;
            }

            if (pendingSpace)
            {
                sb.Append(' ');
                pendingSpace = false;
            }

            sb.Append(c);
        }

        return sb.Length == 0 ? null : sb.ToString();
    }

    /// <summary>Whether a character is a CJK ideograph, kana or hangul, i.e. text written without spaces.</summary>
    internal static bool IsCjk(char c) =>
        c is >= '\u4E00' and <= '\u9FFF'      // CJK unified ideographs
            or >= '\u3400' and <= '\u4DBF'    // extension A
            or >= '\uF900' and <= '\uFAFF'    // compatibility ideographs
            or >= '\u3040' and <= '\u30FF'    // hiragana, katakana
            or >= '\uAC00' and <= '\uD7AF'    // hangul syllables
            or '\u3007'                       // 〇, used in names and years
            || char.IsSurrogate(c);           // extension B+ ideographs; emoji too, an accepted approximation

    /// <summary>
    /// Chinese is written without spaces, so a space next to a CJK character is an input artefact
    /// ("上海 华为 技术"); spaces between Latin words carry meaning and stay.
    /// </summary>
    internal static string RemoveSpacesAroundCjk(string text)
    {
        var sb = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == ' ')
            {
                var prev = i > 0 ? text[i - 1] : ' ';
                var next = i + 1 < text.Length ? text[i + 1] : ' ';
                if (IsCjk(prev) || IsCjk(next) || prev == '(' || next == ')')
                {
                    continue;
                }
            }

            sb.Append(c);
        }

        return sb.ToString();
    }

    private static string FoldWidthAndDropInvisible(string value)
    {
        var sb = new StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (char.IsHighSurrogate(c))
            {
                if (i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
                {
                    sb.Append(c).Append(value[++i]);
                }

                continue;
            }

            if (char.IsLowSurrogate(c) || IsInvisible(c))
            {
                continue;
            }

            sb.Append(c switch
            {
                >= '\uFF01' and <= '\uFF5E' => (char)(c - 0xFEE0),
                '\u3000' => ' ',
                _ => c,
            });
        }

        return sb.ToString();
    }

    // Zero-width characters and the BOM are not whitespace to .NET, yet they survive copy-paste from web pages
    // and WeChat and silently break equality; soft hyphens and word joiners do the same.
    private static bool IsInvisible(char c) =>
        c is >= '\u200B' and <= '\u200F' or '\u2060' or '\uFEFF' or '\u00AD';
}
