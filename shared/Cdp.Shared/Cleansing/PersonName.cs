namespace Cdp.Shared.Cleansing;

/// <summary>
/// CRMs store LastName and FirstName separately, while WeCom and WeChat give one display name. Composing them
/// the way the person would write it lets the two be compared.
/// </summary>
public static class PersonName
{
    /// <summary>
    /// CJK names family name first with no space (张 + 伟 -> 张伟); Latin names "First Last".
    /// Either part may be missing; both missing gives null.
    /// </summary>
    public static string? Compose(string? lastName, string? firstName)
    {
        var last = TextNormalizer.Normalize(lastName);
        var first = TextNormalizer.Normalize(firstName);
        if (last is null || first is null)
        {
            return Tidy(last ?? first);
        }

        return IsCjk(last) || IsCjk(first)
            ? TextNormalizer.RemoveSpacesAroundCjk(last + first)
            : $"{first} {last}";
    }

    private static string? Tidy(string? name) =>
        name is not null && IsCjk(name) ? TextNormalizer.RemoveSpacesAroundCjk(name) : name;

    private static bool IsCjk(string text) => text.Any(TextNormalizer.IsCjk);
}
