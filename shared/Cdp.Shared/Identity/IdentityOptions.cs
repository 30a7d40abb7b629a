using System.ComponentModel.DataAnnotations;

namespace Cdp.Shared.Identity;

/// <summary>Bound from the <c>Identity</c> section.</summary>
public sealed class IdentityOptions
{
    public const string Section = "Identity";

    /// <summary>
    /// pg_trgm similarity of short names (same city) from which an account is a fuzzy candidate. Chinese names
    /// are short, so one wrong character of four already drops similarity to 0.25 ("腾讯科技" vs "腾迅科技").
    /// </summary>
    [Range(0.05, 1.0)]
    public double FuzzyThreshold { get; set; } = 0.2;
}
