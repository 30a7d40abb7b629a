using System.Text;
using PhoneNumbers;

namespace Cdp.Shared.Cleansing;

/// <summary>What a phone number is, by the numbering plan (libphonenumber's metadata).</summary>
public enum PhoneKind
{
    /// <summary>A person's mobile, mainland (bare 11 digits) or foreign (E.164): an identity key.</summary>
    Mobile,
    /// <summary>A fixed line (mainland with area code, or foreign): a business's number, shared by its people.</summary>
    Landline,
    /// <summary>800 (and foreign toll-free) numbers.</summary>
    TollFree,
    /// <summary>400 (and foreign shared-cost) numbers.</summary>
    SharedCost,
    /// <summary>95xxx service numbers and other non-geographic business numbers.</summary>
    Service,
    /// <summary>A mainland 14x data-only or IoT segment: a SIM in a router or a meter, not a person.</summary>
    DataOnly,
    /// <summary>Shaped like a mainland mobile (1 and 11 digits) but in no segment the current plan allocates.</summary>
    Unallocated,
}

/// <summary>A number in canonical form: bare digits for mainland mobile-shaped numbers, E.164 for the rest.</summary>
public sealed record ClassifiedPhone(string Canonical, PhoneKind Kind)
{
    /// <summary>Only a person's mobile may match or merge people; everything else is kept and typed but never keyed on.</summary>
    public bool IsIdentityKey => Kind == PhoneKind.Mobile;

    /// <summary>Kept but flagged: the numbering plan says no person can be reached on it.</summary>
    public bool IsFlagged => Kind is PhoneKind.DataOnly or PhoneKind.Unallocated;

    /// <summary>Stored in <c>phone_type</c>: "landline", "toll_free", "shared_cost", "service", "data_only", "unallocated", "mobile".</summary>
    public string TypeName => Kind switch
    {
        PhoneKind.TollFree => "toll_free",
        PhoneKind.SharedCost => "shared_cost",
        PhoneKind.DataOnly => "data_only",
        _ => Kind.ToString().ToLowerInvariant(),
    };
}

/// <summary>
/// Phone numbers as channels spell them. Identity matching keys on the mobile, so every spelling of a mainland mobile
/// ("+86 138-1234-5678", "0086 13812345678", full-width digits) ends up as the same 11 digits; a foreign number
/// (+852, +886, +65, +1 ...) as E.164. Which numbers are mobiles, landlines, 400/800 or unallocated is the numbering
/// plan's call (libphonenumber-csharp's metadata), not ours.
/// </summary>
public static class MobileNumber
{
    static readonly PhoneNumberUtil Util = PhoneNumberUtil.GetInstance();

    /// <summary>
    /// A number usable as a person's mobile (an identity key): canonical is the bare 11 digits for the mainland
    /// ("13812345678"), E.164 for a foreign one ("+85291234567"). Absent input is not invalid: it returns true with a
    /// null canonical value. Landlines, 400/800/95, data-only and unallocated numbers return false (see
    /// <see cref="TryClassify"/>, which keeps them).
    /// </summary>
    public static bool TryNormalize(string? raw, out string? canonical) => TryNormalize(raw, out canonical, out _);

    /// <summary>As <see cref="TryNormalize(string?, out string?)"/>, with a reason that never repeats the number.</summary>
    public static bool TryNormalize(string? raw, out string? canonical, out string? problem)
    {
        canonical = null;
        if (!TryClassify(raw, out var phone, out problem))
        {
            return false;
        }

        if (phone is null || phone.IsIdentityKey)
        {
            canonical = phone?.Canonical;
            return true;
        }

        problem = phone.Kind switch
        {
            PhoneKind.Landline => "is a landline, a business's number rather than a person's mobile; put it in the phone field",
            PhoneKind.DataOnly => "is in a data-only (14x) segment, which no person is called on",
            PhoneKind.Unallocated => "is not in a mobile segment of the current numbering plan (13 to 19, as allocated)",
            _ => "is a 400, 800 or 95 service number of a business, not a person's mobile",
        };
        return false;
    }

    /// <summary>
    /// Any phone number a channel sent, classified: null for absent input, false with a reason (that never repeats the
    /// number) for what is no phone number at all.
    /// </summary>
    public static bool TryClassify(string? raw, out ClassifiedPhone? phone, out string? problem)
    {
        phone = null;
        problem = null;
        var text = TextNormalizer.Normalize(raw);
        if (text is null)
        {
            return true;
        }

        // Stricter than libphonenumber, which would read "138/1234/5678" or "... ext 1": a mobile field holding those
        // is a data-entry problem the source should fix.
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
        if (number.Length == 0)
        {
            problem = "contains no digits";
            return false;
        }

        // International spellings: "+cc", "00cc", and the bare "86" before a mainland mobile that CRMs export.
        var international = plus ? number
            : number.StartsWith("00", StringComparison.Ordinal) ? number[2..]
            : number.Length == 13 && number.StartsWith("861", StringComparison.Ordinal) ? number
            : null;

        // 95xxx(xx) service numbers are dialled as they are, without area code; the metadata has no entry for them.
        if (international is null && number.StartsWith("95", StringComparison.Ordinal) && number.Length is 5 or 6 or 8)
        {
            phone = new ClassifiedPhone(number, PhoneKind.Service);
            return true;
        }

        PhoneNumber parsed;
        try
        {
            parsed = international is null ? Util.ParseAndKeepRawInput(number, "CN") : Util.Parse("+" + international, null);
        }
        catch (NumberParseException)
        {
            problem = international is null ? Describe(number) : "has a country code that does not exist";
            return false;
        }

        // Any other leading "86" without + (e.g. "86 0138 ...") is a mangled prefix, not a number to guess at.
        if (international is null && parsed.CountryCodeSource != PhoneNumber.Types.CountryCodeSource.FROM_DEFAULT_COUNTRY)
        {
            problem = "starts with a country code without + or 00; write it as +86 followed by the number";
            return false;
        }

        var national = Util.GetNationalSignificantNumber(parsed);
        var valid = Util.IsValidNumber(parsed);
        if (parsed.CountryCode == 86)
        {
            if (valid)
            {
                var kind = Kind(Util.GetNumberType(parsed), mainland: true);
                phone = new ClassifiedPhone(kind == PhoneKind.Mobile ? national : Util.Format(parsed, PhoneNumberFormat.E164), kind);
                return true;
            }

            // Mobile-shaped but not allocated to mobiles: kept, flagged, never a key. 14x is where MIIT puts data-only
            // cards (11 digits) and IoT (13 digits); what the metadata does not list as mobile there is such a number.
            var dataSegment = national.StartsWith("14", StringComparison.Ordinal);
            if (national[0] == '1' && (national.Length == 11 || (dataSegment && national.Length == 13)))
            {
                phone = new ClassifiedPhone(national, dataSegment ? PhoneKind.DataOnly : PhoneKind.Unallocated);
                return true;
            }

            problem = Describe(international is null ? number : national);
            return false;
        }

        if (!valid)
        {
            problem = "is not a valid number for its country code";
            return false;
        }

        phone = new ClassifiedPhone(Util.Format(parsed, PhoneNumberFormat.E164), Kind(Util.GetNumberType(parsed), mainland: false));
        return true;
    }

    /// <summary>
    /// "138****5678" for logs and UIs (PIPL): the first 3 and last 4 digits, enough to recognise a number, not enough
    /// to call it. Foreign numbers show digits only ("442*****0958").
    /// </summary>
    public static string? Mask(string? value)
    {
        var text = TextNormalizer.Normalize(value);
        if (text is null)
        {
            return null;
        }

        // An invalid value can still be a real number with a typo, so it is masked just as hard.
        var digits = TryNormalize(text, out var canonical) && canonical is not null
            ? canonical.TrimStart('+')
            : new string(text.Where(char.IsAsciiDigit).ToArray());
        return digits.Length >= 8
            ? string.Concat(digits.AsSpan(0, 3), new string('*', digits.Length - 7), digits.AsSpan(digits.Length - 4))
            : "****";
    }

    static PhoneKind Kind(PhoneNumberType type, bool mainland) => type switch
    {
        PhoneNumberType.MOBILE or PhoneNumberType.PERSONAL_NUMBER or PhoneNumberType.PAGER => PhoneKind.Mobile,
        // Mainland fixed lines and mobiles never share a pattern, so "either" is a landline there; elsewhere (+1)
        // it is how the plan describes every ordinary number, a person's mobile included.
        PhoneNumberType.FIXED_LINE_OR_MOBILE => mainland ? PhoneKind.Landline : PhoneKind.Mobile,
        PhoneNumberType.FIXED_LINE => PhoneKind.Landline,
        PhoneNumberType.TOLL_FREE => PhoneKind.TollFree,
        PhoneNumberType.SHARED_COST => PhoneKind.SharedCost,
        _ => PhoneKind.Service,
    };

    private static bool IsSeparator(char c) =>
        c is ' ' or '-' or '.' or '(' or ')' or '\u2010' or '\u2011' or '\u2012' or '\u2013' or '\u2014' or '\u2212';

    private static string Describe(string number)
    {
        if (number[0] == '0')
        {
            return "starts with 0 like a landline with area code, but is not a valid landline number";
        }

        if (number[0] == '1' && number.Length != 11)
        {
            return $"has {number.Length} digits; a mainland mobile has 11";
        }

        return "is not a valid mainland number (mobiles have 11 digits starting with 1, landlines an area code starting with 0)";
    }
}
