using System.Text.Json;

namespace Cdp.Shared.Identity;

/// <summary>How identity stores records, candidates and field times in jsonb: the platform's one JSON shape (CdpJson).</summary>
internal static class IdentityJson
{
    public static JsonSerializerOptions Options => CdpJson.Options;

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);

    public static T Deserialize<T>(string json) =>
        JsonSerializer.Deserialize<T>(json, Options) ?? throw new JsonException($"Expected a {typeof(T).Name}, got null.");

    public static Dictionary<string, DateTimeOffset> FieldTimes(string? json) =>
        string.IsNullOrEmpty(json) ? [] : Deserialize<Dictionary<string, DateTimeOffset>>(json);

    public static Dictionary<string, string> FieldSources(string? json) =>
        string.IsNullOrEmpty(json) ? [] : Deserialize<Dictionary<string, string>>(json);
}
