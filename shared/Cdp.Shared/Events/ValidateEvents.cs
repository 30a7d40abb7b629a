using System.Globalization;
using System.Text.Json;
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

    public static ValidatedBatch Validate(ReadOnlySpan<byte> body, int maxEvents, DateTimeOffset now)
    {
        JsonNode? root;
        using (var doc = JsonText.Parse(body.ToArray(), maxDepth: 32)) root = JsonNode.Parse(doc.RootElement.GetRawText());
        if (root is not JsonObject obj || !obj.TryGetPropertyValue("events", out var eventsNode) || eventsNode is not JsonArray events)
            throw new ApiProblemException(ApiProblem.Unprocessable(
                new Dictionary<string, string[]> { ["events"] = ["Send an object with an \"events\" array."] }));
        if (events.Count > maxEvents)
            throw new ApiProblemException(ApiProblem.Unprocessable(
                new Dictionary<string, string[]> { ["events"] = [$"At most {maxEvents} events per request; got {events.Count}."] }));

        var valid = new List<ValidEvent>(events.Count);
        var rejected = new List<EventRejection>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var accepted = 0;
        for (var i = 0; i < events.Count; i++)
        {
            var (ev, reason) = ValidateOne(events[i], now);
            if (ev is null)
            {
                rejected.Add(new EventRejection(i, reason!));
                continue;
            }
            accepted++;
            // A repeat within the batch is accepted (the caller did nothing wrong) but stored once.
            if (seen.Add(ev.EventId)) valid.Add(ev);
        }
        return new ValidatedBatch(valid, accepted, rejected);
    }

    public static (ValidEvent? Event, string? Reason) ValidateOne(JsonNode? node, DateTimeOffset now)
    {
        if (node is not JsonObject e) return (null, "an event must be an object");

        if (Text(e, "eventId") is not { Length: > 0 } eventId || string.IsNullOrWhiteSpace(eventId))
            return (null, "eventId is required");
        if (eventId.Length > MaxEventIdLength) return (null, $"eventId must be at most {MaxEventIdLength} characters");

        if (Text(e, "userId") is not { } userId || string.IsNullOrWhiteSpace(userId)) return (null, "userId is required");
        if (userId.Length > MaxUserIdLength) return (null, $"userId must be at most {MaxUserIdLength} characters");

        if (Text(e, "type") is not { Length: > 0 } type) return (null, "type is required");
        if (!TypePattern().IsMatch(type)) return (null, "type must be 1-64 characters of letters, digits and _ . : $ -");

        if (Text(e, "occurredAt") is not { } occurredText) return (null, "occurredAt is required");
        if (!IsoPattern().IsMatch(occurredText)
            || !DateTimeOffset.TryParse(occurredText, CultureInfo.InvariantCulture, DateTimeStyles.None, out var occurredAt))
            return (null, "occurredAt must be an ISO 8601 date-time with a time zone");
        if (occurredAt > now + MaxFutureSkew) return (null, "occurredAt is more than a day in the future");
        if (occurredAt < Earliest) return (null, "occurredAt is before 2000");

        Guid? contactId = null, leadId = null, accountId = null;
        foreach (var (name, set) in new (string, Action<Guid>)[]
                 { ("contactId", g => contactId = g), ("leadId", g => leadId = g), ("accountId", g => accountId = g) })
        {
            if (!e.TryGetPropertyValue(name, out var idNode) || idNode is null) continue;
            if (idNode is not JsonValue v || !v.TryGetValue<string>(out var s) || !Guid.TryParse(s, out var g))
                return (null, $"{name} must be a GUID");
            set(g);
        }

        string? identityToken = null;
        if (e.TryGetPropertyValue("identityToken", out var tokenNode) && tokenNode is not null)
        {
            if (tokenNode is not JsonValue tv || !tv.TryGetValue<string>(out identityToken) || identityToken.Length > MaxIdentityTokenLength)
                return (null, $"identityToken must be a string of at most {MaxIdentityTokenLength} characters");
        }

        JsonObject properties;
        if (!e.TryGetPropertyValue("properties", out var propsNode) || propsNode is null) properties = [];
        else if (propsNode is JsonObject p)
        {
            if (PropertyCapProblem(p, 1) is { } problem) return (null, problem);
            properties = ScrubPersonalData.Scrub(p);
        }
        else return (null, "properties must be an object");

        return (new ValidEvent(eventId, userId, contactId, leadId, accountId, type, occurredAt.ToUniversalTime(),
            properties.ToJsonString()) { IdentityToken = identityToken }, null);
    }

    /// <summary>The first cap a properties tree breaks, or null.</summary>
    static string? PropertyCapProblem(JsonNode? node, int depth)
    {
        switch (node)
        {
            case JsonObject o:
                if (depth > MaxPropertyDepth) return $"properties nest deeper than {MaxPropertyDepth} levels";
                if (o.Count > MaxProperties) return $"properties: at most {MaxProperties} keys per object";
                foreach (var (key, value) in o)
                {
                    if (key.Length > MaxPropertyKeyLength) return $"properties: keys are at most {MaxPropertyKeyLength} characters";
                    if (PropertyCapProblem(value, depth + 1) is { } p) return p;
                }
                return null;
            case JsonArray a:
                if (depth > MaxPropertyDepth) return $"properties nest deeper than {MaxPropertyDepth} levels";
                if (a.Count > MaxProperties) return $"properties: at most {MaxProperties} items per array";
                foreach (var item in a)
                    if (PropertyCapProblem(item, depth + 1) is { } p) return p;
                return null;
            case JsonValue v when v.TryGetValue<string>(out var s) && s.Length > MaxPropertyValueLength:
                return $"properties: string values are at most {MaxPropertyValueLength} characters";
            default:
                return null;
        }
    }

    static string? Text(JsonObject e, string name) =>
        e.TryGetPropertyValue(name, out var n) && n is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
}
