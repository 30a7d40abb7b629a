using System.Text.Json;

namespace Cdp.Shared;

/// <summary>The one JSON shape used for messages and payloads: System.Text.Json web defaults (camelCase).</summary>
public static class CdpJson
{
    public static JsonSerializerOptions Options { get; } = Create();

    static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}
