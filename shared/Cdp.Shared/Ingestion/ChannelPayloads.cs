using System.Globalization;
using System.Text.Json;
using Cdp.Shared.Api;
using Cdp.Shared.Cleansing;

namespace Cdp.Shared.Ingestion;

/// <summary>Identifies one version of one source record, for deduplicating resends.</summary>
public sealed record SourceEnvelope(string SourceId, string SourceVersion);

/// <summary>
/// Reads the JSON channels (crm, erp: record envelopes; wechat: H5 form). <see cref="ReadEnvelope"/> runs before
/// the 202 and refuses what cannot even be keyed; <see cref="ToRecord"/> runs later, in the pipeline.
/// </summary>
public static class ChannelPayloads
{
    static readonly JsonDocumentOptions Parsing = new() { MaxDepth = 16 };

    // Caps on a pushed record, checked in ReadEnvelope (before the 202, before any work); 422 naming the field.
    public const int MaxNameLength = 100;
    public const int MaxCompanyLength = 200;
    public const int MaxTitleLength = 100;
    public const int MaxOtherFieldLength = 1000;
    public const int MaxFields = 100;
    public const int MaxFieldNameLength = 100;

    static readonly HashSet<string> NameFields = new(["name", "Name", "FullName", "LastName", "FirstName"], StringComparer.Ordinal);
    static readonly HashSet<string> CompanyFields = new(["company", "Company", "AccountName", "CompanyName", "CustomerName"], StringComparer.Ordinal);
    static readonly HashSet<string> TitleFields = new(["title", "Title"], StringComparer.Ordinal);

    /// <summary>The cap on one field's text, by its (source) name.</summary>
    public static int MaxLengthOf(string field) =>
        NameFields.Contains(field) ? MaxNameLength
        : CompanyFields.Contains(field) ? MaxCompanyLength
        : TitleFields.Contains(field) ? MaxTitleLength
        : MaxOtherFieldLength;

    static void CheckCaps(JsonElement obj, string prefix, Dictionary<string, string[]> errors)
    {
        var count = 0;
        foreach (var p in obj.EnumerateObject())
        {
            if (++count > MaxFields) { errors[prefix.Length == 0 ? "body" : prefix.TrimEnd('.')] = [$"At most {MaxFields} fields."]; return; }
            if (p.Name.Length > MaxFieldNameLength) { errors[prefix + p.Name[..20]] = [$"Field names are at most {MaxFieldNameLength} characters."]; continue; }
            if (p.Value.ValueKind != JsonValueKind.String) continue;
            var max = MaxLengthOf(p.Name);
            if (p.Value.GetString()!.Length > max) errors[prefix + p.Name] = [$"At most {max} characters."];
        }
    }


    /// <summary>How far ahead of receipt a <c>modifiedAt</c>/<c>submittedAt</c> may be (clock skew); later is refused (API.md, "Times").</summary>
    public static readonly TimeSpan MaxFutureSkew = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The record's key and version, or 400/422: a time more than <see cref="MaxFutureSkew"/> after
    /// <paramref name="receivedAt"/> would win every later update (newest value per field wins), so it is refused.
    /// </summary>
    public static SourceEnvelope ReadEnvelope(string channel, ReadOnlyMemory<byte> body, DateTimeOffset receivedAt)
    {
        using var doc = Parse(body);
        return ReadEnvelope(channel, doc.RootElement, receivedAt);
    }

    /// <summary>
    /// <see cref="ReadEnvelope(string, ReadOnlyMemory{byte}, DateTimeOffset)"/> and <see cref="ToRecord(string, string)"/>
    /// over one parse of the body, for callers that do both at once (bulk imports read every record this way).
    /// </summary>
    public static (SourceEnvelope Envelope, CustomerRecord Record) ReadRecord(string channel, ReadOnlyMemory<byte> body, DateTimeOffset receivedAt)
    {
        using var doc = Parse(body);
        return (ReadEnvelope(channel, doc.RootElement, receivedAt), ToRecord(channel, doc.RootElement));
    }

    static SourceEnvelope ReadEnvelope(string channel, JsonElement root, DateTimeOffset receivedAt)
    {
        var errors = new Dictionary<string, string[]>();
        if (root.ValueKind != JsonValueKind.Object) throw new ApiProblemException(ApiProblem.BadRequest("The body must be a JSON object."));

        if (channel == ChannelNames.WeChat)
        {
            CheckCaps(root, "", errors);
            var openId = RequiredString(root, "openId", errors);
            var formId = RequiredString(root, "formId", errors);
            var submittedAt = RequiredTime(root, "submittedAt", receivedAt, errors);
            ThrowIfAny(errors);
            return new(openId!, $"{formId}|{submittedAt!.Value.UtcDateTime.ToString("O", CultureInfo.InvariantCulture)}");
        }

        var sourceId = RequiredString(root, "sourceId", errors);
        var objectType = RequiredString(root, "objectType", errors);
        if (objectType is not null && ParseKind(objectType) is null)
            errors["objectType"] = ["Must be one of lead, contact, account."];
        var modifiedAt = RequiredTime(root, "modifiedAt", receivedAt, errors);
        if (!root.TryGetProperty("fields", out var fields) || fields.ValueKind != JsonValueKind.Object)
            errors["fields"] = ["Required: an object of source field names to values."];
        else CheckCaps(fields, "fields.", errors);
        ThrowIfAny(errors);
        return new(sourceId!, modifiedAt!.Value.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
    }

    /// <summary>Maps a stored payload (already past <see cref="ReadEnvelope"/>) to the platform's record.</summary>
    public static CustomerRecord ToRecord(string channel, string payload)
    {
        using var doc = JsonDocument.Parse(payload, Parsing);
        return ToRecord(channel, doc.RootElement);
    }

    static CustomerRecord ToRecord(string channel, JsonElement root)
    {
        if (channel == ChannelNames.WeChat)
        {
            return new CustomerRecord
            {
                Channel = channel,
                SourceId = Text(root, "openId")!,
                Kind = EntityKind.Lead,
                ModifiedAt = Time(root, "submittedAt")!.Value,
                Name = Text(root, "name"),
                Mobile = Text(root, "mobile"),
                Email = Text(root, "email"),
                Company = Text(root, "company"),
                City = Text(root, "city"),
                Title = Text(root, "title"),
                OpenId = Text(root, "openId"),
                UnionId = Text(root, "unionId"),
                UtmSource = Text(root, "utmSource"),
                UtmCampaign = Text(root, "utmCampaign"),
                LeadSource = "wechat_form",
            };
        }

        var kind = ParseKind(Text(root, "objectType")!)!.Value;
        var f = root.GetProperty("fields");
        var company = Text(f, "Company", "AccountName", "CompanyName", "CustomerName");
        return new CustomerRecord
        {
            Channel = channel,
            SourceId = Text(root, "sourceId")!,
            Kind = kind,
            ModifiedAt = Time(root, "modifiedAt")!.Value,
            Name = kind == EntityKind.Account
                ? company ?? Text(f, "Name")
                : Text(f, "Name", "FullName") ?? PersonName.Compose(Text(f, "LastName"), Text(f, "FirstName")),
            Company = kind == EntityKind.Account ? company ?? Text(f, "Name") : company,
            Mobile = Text(f, "MobilePhone", "Mobile"),
            Phone = Text(f, "Phone"),
            Email = Text(f, "Email"),
            City = Text(f, "City", "BillingCity"),
            CreditCode = Text(f, "CreditCode", "UnifiedSocialCreditCode"),
            Title = Text(f, "Title"),
            LeadSource = Text(f, "LeadSource"),
            CampaignId = Text(f, "CampaignId"),
            WeComExternalUserId = Text(f, "WeComExternalUserId"),
            // The CRM owner is taken to be the WeCom userid of a staff member (README, "Who sees which customers").
            OwnerId = channel == ChannelNames.Crm ? Text(f, "OwnerId") : null,
        };
    }

    static EntityKind? ParseKind(string objectType) => objectType.Trim().ToLowerInvariant() switch
    {
        "lead" => EntityKind.Lead,
        "contact" => EntityKind.Contact,
        "account" => EntityKind.Account,
        _ => null,
    };

    static JsonDocument Parse(ReadOnlyMemory<byte> body) => JsonText.Parse(body, Parsing.MaxDepth);

    static void ThrowIfAny(Dictionary<string, string[]> errors)
    {
        if (errors.Count > 0) throw new ApiProblemException(ApiProblem.Unprocessable(errors));
    }

    static string? RequiredString(JsonElement obj, string name, Dictionary<string, string[]> errors)
    {
        var value = obj.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.String ? p.GetString()?.Trim() : null;
        if (string.IsNullOrEmpty(value)) errors[name] = ["Required: a non-empty string."];
        else if (value.Length > 200) errors[name] = ["At most 200 characters."];
        else return value;
        return null;
    }

    static DateTimeOffset? RequiredTime(JsonElement obj, string name, DateTimeOffset receivedAt, Dictionary<string, string[]> errors)
    {
        var time = Time(obj, name);
        if (time is null) errors[name] = ["Required: an ISO 8601 date-time such as 2026-11-01T08:00:00+08:00."];
        else if (time.Value > receivedAt + MaxFutureSkew)
        {
            errors[name] = [$"Must not be more than {MaxFutureSkew.TotalMinutes:0} minutes ahead of receipt ({receivedAt.UtcDateTime:O})."];
            return null;
        }
        return time;
    }

    static DateTimeOffset? Time(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.String
        && DateTimeOffset.TryParse(p.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t)
            ? t : null;

    /// <summary>The first present field among the aliases, as text (numbers too: ERP systems send ids as numbers).</summary>
    static string? Text(JsonElement obj, params string[] names)
    {
        foreach (var name in names)
        {
            if (!obj.TryGetProperty(name, out var p)) continue;
            var text = p.ValueKind switch
            {
                JsonValueKind.String => p.GetString(),
                JsonValueKind.Number => p.GetRawText(),
                _ => null,
            };
            if (!string.IsNullOrWhiteSpace(text)) return text;
        }
        return null;
    }
}
