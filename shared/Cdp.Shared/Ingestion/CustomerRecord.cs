namespace Cdp.Shared.Ingestion;

/// <summary>What a channel record is about once its adapter has read it.</summary>
public enum EntityKind { Lead, Contact, Account }

/// <summary>
/// One channel record in the platform's own terms, whatever channel it came from. Adapters fill it from the
/// raw payload; cleansing returns a normalised copy; identity resolution matches it to an entity.
/// </summary>
public sealed record CustomerRecord
{
    public required string Channel { get; init; }
    /// <summary>The record's id in its source system (CRM id, WeCom external user id, WeChat openId, ERP id).</summary>
    public required string SourceId { get; init; }
    public required EntityKind Kind { get; init; }
    /// <summary>When the source last changed the record; newest wins per field when merging.</summary>
    public required DateTimeOffset ModifiedAt { get; init; }

    public string? Name { get; init; }
    public string? Company { get; init; }
    public string? Mobile { get; init; }
    public string? Phone { get; init; }
    public string? Email { get; init; }
    public string? City { get; init; }
    public string? CreditCode { get; init; }
    public string? Title { get; init; }
    public string? LeadSource { get; init; }
    public string? CampaignId { get; init; }
    public string? WeComExternalUserId { get; init; }
    public string? OpenId { get; init; }
    public string? UnionId { get; init; }
    public string? UtmSource { get; init; }
    public string? UtmCampaign { get; init; }

    /// <summary>
    /// WeCom: the staff who follow the contact, as <c>externalcontact/get</c> listed them when the callback was
    /// processed (the whole list: who is missing no longer follows). Null for records of other channels.
    /// </summary>
    public IReadOnlyList<Follower>? Followers { get; init; }

    /// <summary>CRM: the record's owner (<c>OwnerId</c>), taken to be the owner's WeCom userid.</summary>
    public string? OwnerId { get; init; }
}

/// <summary>A staff member (WeCom userid) following a WeCom external contact since <paramref name="Since"/>.</summary>
public sealed record Follower(string UserId, DateTimeOffset Since);
