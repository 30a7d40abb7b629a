using System.Buffers;
using System.Text;
using System.Text.Json;
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
    public static bool LooksPersonal(string value) => (value.Contains('@') || HasElevenDigits(value)) && PersonalValuePattern.IsMatch(value);

    static bool HasElevenDigits(string value)
    {
        var digits = 0;
        foreach (var c in value)
            if (char.IsAsciiDigit(c) && ++digits >= 11) return true;
        return false;
    }

    /// <summary>A copy of <paramref name="properties"/> without personal keys and with personal-looking strings masked.</summary>
    public static JsonObject Scrub(JsonObject properties) =>
        JsonNode.Parse(ScrubToJson(JsonSerializer.SerializeToElement(properties)))!.AsObject();

    /// <summary>The scrubbed copy of a properties object as compact JSON text, written in one pass.</summary>
    public static string ScrubToJson(JsonElement properties)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer)) Write(writer, properties);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    static void Write(Utf8JsonWriter writer, JsonElement node)
    {
        switch (node.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var property in node.EnumerateObject())
                {
                    if (IsPersonalKey(property.Name)) continue;
                    writer.WritePropertyName(property.Name);
                    Write(writer, property.Value);
                }
                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in node.EnumerateArray()) Write(writer, item);
                writer.WriteEndArray();
                break;
            case JsonValueKind.String:
                var s = node.GetString()!;
                writer.WriteStringValue(LooksPersonal(s) ? Mask : s);
                break;
            default:
                node.WriteTo(writer);
                break;
        }
    }
}
