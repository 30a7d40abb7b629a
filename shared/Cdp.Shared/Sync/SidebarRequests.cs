namespace Cdp.Shared.Sync;

/// <summary>Body of <c>PUT /api/contacts/{id}/tags</c>.</summary>
public sealed record TagsBody(IReadOnlyList<string?>? Tags);

/// <summary>Body of <c>POST /api/contacts/{id}/follow-ups</c>.</summary>
public sealed record FollowUpBody(string? Content, string? Channel, DateTimeOffset? OccurredAt);
