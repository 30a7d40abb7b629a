using System.Globalization;
using System.Text.Json;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Cdp.Shared.Api;

namespace Cdp.Shared.Events;

/// <summary>One event that passed validation, its properties already scrubbed of personal data.</summary>
public sealed record ValidEvent(
    string EventId, string UserId, Guid? ContactId, Guid? LeadId, Guid? AccountId, string Type, DateTimeOffset OccurredAt,
    string PropertiesJson)
{
    /// <summary>The website backend's proof that it signed in <see cref="UserId"/> (<see cref="VerifyIdentityTokens"/>); never stored.</summary>
    public string? IdentityToken { get; init; }

    public bool NamesAnEntity => ContactId is not null || LeadId is not null || AccountId is not null;
}

public sealed record EventRejection(int Index, string Reason);

/// <summary>What a batch came to: the events to store (first of each id), how many were accepted, and why others were not.</summary>
public sealed record ValidatedBatch(IReadOnlyList<ValidEvent> Events, int Accepted, IReadOnlyList<EventRejection> Rejected);

/// <summary>
/// The decision for POST /api/events, pure: a malformed body or a batch that breaks the request's rules is a
/// problem for the whole request (400/422); a bad event only rejects itself, by index.
/// </summary>
public static partial class ValidateEvents
{
    public const int MaxEventIdLength = 100;
    public const int MaxUserIdLength = 200;
    public const int MaxIdentityTokenLength = 128;
    public static readonly TimeSpan MaxFutureSkew = TimeSpan.FromDays(1);

    // Caps on an event's properties, checked before scrubbing: keys per object (and items per array), key length,
    // string value length, nesting depth (properties itself is depth 1).
    public const int MaxProperties = 100;
    public const int MaxPropertyKeyLength = 100;
    public const int MaxPropertyValueLength = 8 * 1024;
    public const int MaxPropertyDepth = 5;
    static readonly DateTimeOffset Earliest = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [GeneratedRegex("^[A-Za-z0-9_.:$-]{1,64}$", RegexOptions.CultureInvariant)]
    private static partial Regex TypePattern();

    // ISO 8601 date-time with a time zone (Z or an offset); local times are ambiguous across SDK devices.
    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:?\d{2})$", RegexOptions.CultureInvariant)]
    private static partial Regex IsoPattern();

    /// <param name="body">Read in place (no copy); it must stay unchanged until this returns.</param>
    public static ValidatedBatch Validate(ReadOnlyMemory<byte> body, int maxEvents, DateTimeOffset now)
    {
        using var doc = JsonText.Parse(body, maxDepth: 32);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("events", out var events) || events.ValueKind != JsonValueKind.Array)
            throw new ApiProblemException(ApiProblem.Unprocessable(
                new Dictionary<string, string[]> { ["events"] = ["Send an object with an \"events\" array."] }));
        var count = events.GetArrayLength();
        if (count > maxEvents)
            throw new ApiProblemException(ApiProblem.Unprocessable(
                new Dictionary<string, string[]> { ["events"] = [$"At most {maxEvents} events per request; got {count}."] }));

        var valid = new List<ValidEvent>(count);
        var rejected = new List<EventRejection>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var accepted = 0;
        var i = 0;
        foreach (var element in events.EnumerateArray())
        {
            var (ev, reason) = ValidateOne(element, now);
            if (ev is null) rejected.Add(new EventRejection(i, reason!));
            else
            {
                accepted++;
                // A repeat within the batch is accepted (the caller did nothing wrong) but stored once.
                if (seen.Add(ev.EventId)) valid.Add(ev);
            }
            i++;
        }
        return new ValidatedBatch(valid, accepted, rejected);
    }

    /// <summary>One event given as a node (tests build them so); the same decision as for a parsed body.</summary>
    public static (ValidEvent? Event, string? Reason) ValidateOne(JsonNode? node, DateTimeOffset now) =>
        ValidateOne(JsonSerializer.SerializeToElement(node), now);

    /// <summary>
    /// One event, read straight off the parsed body (no DOM of nodes: at a thousand events per request that copy was
    /// most of the request's time); its properties capped, then scrubbed into their stored text in one pass.
    /// </summary>
    public static (ValidEvent? Event, string? Reason) ValidateOne(JsonElement e, DateTimeOffset now)
    {
        if (e.ValueKind != JsonValueKind.Object) return (null, "an event must be an object");

        if (Text(e, "eventId"u8) is not { Length: > 0 } eventId || string.IsNullOrWhiteSpace(eventId))
            return (null, "eventId is required");
        if (eventId.Length > MaxEventIdLength) return (null, $"eventId must be at most {MaxEventIdLength} characters");

        if (Text(e, "userId"u8) is not { } userId || string.IsNullOrWhiteSpace(userId)) return (null, "userId is required");
        if (userId.Length > MaxUserIdLength) return (null, $"userId must be at most {MaxUserIdLength} characters");

        if (Text(e, "type"u8) is not { Length: > 0 } type) return (null, "type is required");
        if (!TypePattern().IsMatch(type)) return (null, "type must be 1-64 characters of letters, digits and _ . : $ -");

        if (Text(e, "occurredAt"u8) is not { } occurredText) return (null, "occurredAt is required");
        if (!IsoPattern().IsMatch(occurredText)
            || !DateTimeOffset.TryParse(occurredText, CultureInfo.InvariantCulture, DateTimeStyles.None, out var occurredAt))
            return (null, "occurredAt must be an ISO 8601 date-time with a time zone");
        if (occurredAt > now + MaxFutureSkew) return (null, "occurredAt is more than a day in the future");
        if (occurredAt < Earliest) return (null, "occurredAt is before 2000");

        if (!TryId(e, "contactId"u8, out var contactId)) return (null, "contactId must be a GUID");
        if (!TryId(e, "leadId"u8, out var leadId)) return (null, "leadId must be a GUID");
        if (!TryId(e, "accountId"u8, out var accountId)) return (null, "accountId must be a GUID");

        string? identityToken = null;
        if (e.TryGetProperty("identityToken"u8, out var token) && token.ValueKind != JsonValueKind.Null)
        {
            if (token.ValueKind != JsonValueKind.String || (identityToken = token.GetString()!).Length > MaxIdentityTokenLength)
                return (null, $"identityToken must be a string of at most {MaxIdentityTokenLength} characters");
        }

        string properties;
        if (!e.TryGetProperty("properties"u8, out var props) || props.ValueKind == JsonValueKind.Null) properties = "{}";
        else if (props.ValueKind == JsonValueKind.Object)
        {
            if (PropertyCapProblem(props, 1) is { } problem) return (null, problem);
            properties = ScrubPersonalData.ScrubToJson(props);
        }
        else return (null, "properties must be an object");

        return (new ValidEvent(eventId, userId, contactId, leadId, accountId, type, occurredAt.ToUniversalTime(), properties)
            { IdentityToken = identityToken }, null);
    }

    /// <summary>False when the id is there but no GUID string; absent or null is no id.</summary>
    static bool TryId(JsonElement e, ReadOnlySpan<byte> name, out Guid? id)
    {
        id = null;
        if (!e.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return true;
        if (value.ValueKind != JsonValueKind.String || !Guid.TryParse(value.GetString(), out var g)) return false;
        id = g;
        return true;
    }

    /// <summary>The first cap a properties tree breaks, or null.</summary>
    static string? PropertyCapProblem(JsonElement node, int depth)
    {
        switch (node.ValueKind)
        {
            case JsonValueKind.Object:
                if (depth > MaxPropertyDepth) return $"properties nest deeper than {MaxPropertyDepth} levels";
                var keys = 0;
                foreach (var _ in node.EnumerateObject()) keys++;
                if (keys > MaxProperties) return $"properties: at most {MaxProperties} keys per object";
                foreach (var property in node.EnumerateObject())
                {
                    if (property.Name.Length > MaxPropertyKeyLength) return $"properties: keys are at most {MaxPropertyKeyLength} characters";
                    if (PropertyCapProblem(property.Value, depth + 1) is { } p) return p;
                }
                return null;
            case JsonValueKind.Array:
                if (depth > MaxPropertyDepth) return $"properties nest deeper than {MaxPropertyDepth} levels";
                if (node.GetArrayLength() > MaxProperties) return $"properties: at most {MaxProperties} items per array";
                foreach (var item in node.EnumerateArray())
                    if (PropertyCapProblem(item, depth + 1) is { } p) return p;
                return null;
            // The raw UTF-8 (quotes and escapes included) is never shorter than the decoded text: decode only when it is long.
            case JsonValueKind.String when JsonMarshal.GetRawUtf8Value(node).Length - 2 > MaxPropertyValueLength
                                           && node.GetString()!.Length > MaxPropertyValueLength:
                return $"properties: string values are at most {MaxPropertyValueLength} characters";
            default:
                return null;
        }
    }

    // Names as UTF-8: a lookup by a string name transcodes it first, a thousand events times eight names per request.
    static string? Text(JsonElement e, ReadOnlySpan<byte> name) =>
        e.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
