using System.Globalization;
using Cdp.Shared.Access;
using Cdp.Shared.Api;
using Cdp.Shared.Cleansing;

namespace Cdp.Shared.Search;

/// <summary>The kinds of customer record a search can return.</summary>
public enum SearchKind { Account, Contact, Lead }

/// <summary>
/// What the text typed into the search box is, decided with the same cleansing rules the records were stored
/// with, so "+86 138-1234-5678" meets the stored "13812345678" and "Zhang@QQ.com" the stored "zhang@qq.com".
/// </summary>
public abstract record SearchTerm
{
    /// <summary>What kind of key the text was taken for: "mobile", "email", "creditCode" or "name" (the audit row keeps this, not the text).</summary>
    public string Kind => this switch
    {
        Mobile => "mobile",
        Email => "email",
        CreditCode => "creditCode",
        _ => "name",
    };

    /// <summary>The typed text as a caller without pii:reveal may see it echoed: masked when it is a phone or an address.</summary>
    public string Masked(string text) => this switch
    {
        Mobile => PiiMask.Phone(text)!,
        Email => PiiMask.Email(text)!,
        _ => text,
    };

    public sealed record Mobile(string Number) : SearchTerm;

    public sealed record Email(string Address) : SearchTerm;

    public sealed record CreditCode(string Code) : SearchTerm;

    /// <summary>A name: as a person name, and as a company name in its full and short normalised forms.</summary>
    public sealed record Name(string Person, string CompanyFull, string CompanyShort) : SearchTerm;

    /// <summary>
    /// Mobile, then email, then a credit code (an unverified check character included, as such codes are stored); anything else is a name. A value that
    /// only looks like one of the keys (a mistyped mobile, an address without a domain) is searched as a name and
    /// so finds nothing rather than failing.
    /// </summary>
    public static SearchTerm Classify(string text)
    {
        if (MobileNumber.TryNormalize(text, out var mobile) && mobile is not null) return new Mobile(mobile);
        if (text.Contains('@', StringComparison.Ordinal) && EmailAddress.TryNormalize(text, out var email) && email is not null)
            return new Email(email);
        if (Cleansing.CreditCode.TryNormalize(text, out var code, out _, out _) && code is not null) return new CreditCode(code);

        var (full, shortName) = CompanyName.Normalize(text);
        var person = PersonName.Compose(null, text) ?? text;
        return new Name(person, full ?? person, shortName ?? person);
    }
}

/// <summary><c>GET /api/search?q=&amp;type=&amp;limit=</c>, checked: what to look for, in which kinds, how many.</summary>
public sealed record SearchQuery(string Text, SearchTerm Term, IReadOnlySet<SearchKind> Kinds, int Limit)
{
    public const int MinLength = 2;
    public const int MaxLength = 100;
    /// <summary>The cap on q before whitespace is squeezed (checked first).</summary>
    public const int MaxRawLength = 4 * MaxLength;
    public const int DefaultLimit = 10;
    public const int MaxLimit = 50;

    static readonly IReadOnlySet<SearchKind> AllKinds = new HashSet<SearchKind>(Enum.GetValues<SearchKind>());

    /// <summary>Checks the query string; every field problem at once as a 400 with <c>errors</c>.</summary>
    /// <exception cref="ApiProblemException">A missing, too short or too long q, an unknown type, a bad limit.</exception>
    public static SearchQuery Parse(string? q, string? type, string? limit)
    {
        var errors = new Dictionary<string, string[]>();
        // The raw length first, before normalising: whitespace is squeezed, but a megabyte of it is not worth reading.
        var text = q is { Length: > MaxRawLength } ? null : TextNormalizer.Normalize(q);
        if (q is { Length: > MaxRawLength })
            errors["q"] = [$"q must be at most {MaxLength} characters."];
        else if (text is null)
            errors["q"] = ["q is required: a name, mobile number, email or unified social credit code."];
        else if (text.Length < MinLength)
            errors["q"] = [$"q must be at least {MinLength} characters."];
        else if (text.Length > MaxLength)
            errors["q"] = [$"q must be at most {MaxLength} characters."];

        var kinds = AllKinds;
        if (TextNormalizer.Normalize(type) is { } t)
        {
            // Not Enum.TryParse: it would take "1" or "account,lead" too.
            SearchKind? kind = t.ToLowerInvariant() switch
            {
                "account" => SearchKind.Account,
                "contact" => SearchKind.Contact,
                "lead" => SearchKind.Lead,
                _ => null,
            };
            if (kind is { } k) kinds = new HashSet<SearchKind> { k };
            else errors["type"] = ["type must be account, contact or lead (or left out for all three)."];
        }

        var max = DefaultLimit;
        if (TextNormalizer.Normalize(limit) is { } l
            && (!int.TryParse(l, NumberStyles.None, CultureInfo.InvariantCulture, out max) || max is < 1 or > MaxLimit))
            errors["limit"] = [$"limit must be a whole number from 1 to {MaxLimit}."];

        if (errors.Count > 0)
            throw new ApiProblemException(new ApiProblem(400, "Malformed request", "The search query is not valid; see errors.", errors));
        return new SearchQuery(text!, SearchTerm.Classify(text!), kinds, max);
    }
}
