using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cdp.Shared;

/// <summary>The one JSON shape used for messages and payloads: System.Text.Json web defaults (camelCase), enums by camelCase name.</summary>
public static class CdpJson
{
    public static JsonSerializerOptions Options { get; } = Create();

    static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
        };
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}
