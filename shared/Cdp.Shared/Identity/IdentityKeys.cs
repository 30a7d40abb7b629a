using Cdp.Shared.Cleansing;
using Cdp.Shared.Ingestion;

namespace Cdp.Shared.Identity;

/// <summary>
/// The natural keys a record could match or create, as advisory-lock names. Two records that share any key are
/// resolved one after the other, so they cannot both miss and both create.
/// </summary>
internal static class IdentityKeys
{
    public static IReadOnlyList<string> For(CleanRecord clean)
    {
        ArgumentNullException.ThrowIfNull(clean);
        var r = clean.Record;
        var kind = KindName(r.Kind);
        var keys = new List<string> { $"{kind}:source:{r.Channel}:{r.SourceId}" };

        if (r.Kind is EntityKind.Contact or EntityKind.Lead)
        {
            Add(keys, kind, "mobile", r.Mobile);
            Add(keys, kind, "email", r.Email);
            Add(keys, kind, "wecom", r.WeComExternalUserId);
        }

        if (r.Kind is EntityKind.Lead)
        {
            Add(keys, kind, "unionid", r.UnionId);
            Add(keys, kind, "openid", r.OpenId);
        }

        if (r.Kind is EntityKind.Account || (r.Kind is EntityKind.Contact && clean.CompanyFullName is not null))
        {
            Add(keys, "account", "code", r.CreditCode);
            Add(keys, "account", "name", clean.CompanyFullName);
        }

        return [.. keys.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
    }

    /// <summary>Taken last, and only before a fuzzy lookup that may end in creating an account.</summary>
    public static string City(string city) => $"account:city:{city}";

    public static string KindName(EntityKind kind) => kind switch
    {
        EntityKind.Lead => "lead",
        EntityKind.Contact => "contact",
        EntityKind.Account => "account",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown record kind."),
    };

    private static void Add(List<string> keys, string kind, string name, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            keys.Add($"{kind}:{name}:{value}");
        }
    }
}
