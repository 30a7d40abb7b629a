using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Cdp.Shared.Events;

/// <summary>
/// PIPL: phone numbers and emails stay out of ClickHouse. Keys that name them are dropped; string values that look
/// like them are masked wherever they sit, since SDK callers put them under arbitrary keys.
/// </summary>
public static partial class ScrubPersonalData
{
    public const string Mask = "***";

    [GeneratedRegex("phone|mobile|e[-_]?mail|tel$|^tel|wechat_?id|id_?card", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex PersonalKey();

    // A mainland mobile (optionally +86), or anything with an email shape inside it. NonBacktracking: property
    // values are user input of up to megabytes, and the backtracking engine took quadratic time on the email shape.
    static readonly Regex PersonalValuePattern = new(
        @"(?:^|\D)(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?:\D|$)|[^\s@]+@[^\s@]+\.[^\s@]+",
        RegexOptions.CultureInvariant | RegexOptions.NonBacktracking);

    public static bool IsPersonalKey(string key) => PersonalKey().IsMatch(key);

    /// <summary>A cheap pre-check first: most property values have no '@' and fewer than 11 digits.</summary>
    public static bool LooksPersonal(string value) =>
        (value.Contains('@') || value.Count(char.IsAsciiDigit) >= 11) && PersonalValuePattern.IsMatch(value);

    /// <summary>A copy of <paramref name="properties"/> without personal keys and with personal-looking strings masked.</summary>
    public static JsonObject Scrub(JsonObject properties)
    {
        var result = new JsonObject();
        foreach (var (key, value) in properties)
        {
            if (IsPersonalKey(key)) continue;
            result[key] = ScrubNode(value);
        }
        return result;
    }

    static JsonNode? ScrubNode(JsonNode? node) => node switch
    {
        null => null,
        JsonObject o => Scrub(o),
        JsonArray a => new JsonArray([.. a.Select(ScrubNode)]),
        JsonValue v when v.TryGetValue<string>(out var s) => LooksPersonal(s) ? JsonValue.Create(Mask) : JsonValue.Create(s),
        _ => node.DeepClone(),
    };
}
