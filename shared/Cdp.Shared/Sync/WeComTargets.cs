using System.Text.Json;
using Cdp.Shared.Channels.WeCom;
using Cdp.Shared.Storage;
using Dapper;
using Npgsql;

namespace Cdp.Shared.Sync;

/// <summary>The <c>wecom_tags</c> payload, as PUT /api/contacts/{id}/tags saved it.</summary>
public sealed record ContactTagsPayload(IReadOnlyList<string> Tags);

/// <summary>The <c>wecom_follow_up</c> payload (informational: the push reads the newest follow-up itself).</summary>
public sealed record FollowUpPayload(Guid FollowUpId, string Content, string? Channel, DateTimeOffset OccurredAt);

/// <summary>Shared steps of the WeCom targets: who the contact is in WeCom and which employee's view to change.</summary>
static class WeComContact
{
    /// <summary>
    /// The contact's external user id and the employee who added them first (mark_tag and remark act on one
    /// employee's view; the first follower is the account owner in the sidebar's sense), or why there is none.
    /// </summary>
    public static async Task<(string? ExternalUserId, WeComFollowUser? FollowUser, string? Why)> ResolveAsync(
        NpgsqlDataSource db, WeComApiClient wecom, Guid contactId, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var externalId = await conn.QuerySingleOrDefaultAsync<string?>(new CommandDefinition(
            "select wecom_external_user_id from contact where contact_id = @contactId", new { contactId }, cancellationToken: ct));
        if (string.IsNullOrEmpty(externalId)) return (null, null, "the contact has no WeCom external user id");
        var contact = await wecom.GetExternalContactAsync(externalId, ct);
        if (contact is null) return (externalId, null, "WeCom no longer knows the contact as an external contact");
        var follower = contact.FollowUsers.OrderBy(f => f.CreateTime).FirstOrDefault();
        return follower is null ? (externalId, null, "no employee follows the contact in WeCom") : (externalId, follower, null);
    }
}

/// <summary>Makes the contact's corp tags in WeCom equal the saved tag set.</summary>
public sealed class WeComTagsTarget(NpgsqlDataSource db, WeComApiClient wecom) : ISyncTarget
{
    /// <summary>Tags WeCom does not know yet are created in this group.</summary>
    public const string TagGroup = "CDP";

    public string Name => SyncTargetNames.WeComTags;

    public async Task<SyncPushResult> PushAsync(SyncChange change, CancellationToken ct)
    {
        var payload = JsonSerializer.Deserialize<ContactTagsPayload>(change.Latest.PayloadJson, CdpJson.Options)
            ?? throw new SyncRejectedException($"Sync task {change.Latest.SyncTaskId} has no tags payload.");
        var (externalId, follower, why) = await WeComContact.ResolveAsync(db, wecom, change.EntityId, ct);
        if (follower is null) return SyncPushResult.NothingToPush(why!);

        var desired = await TagIdsAsync(payload.Tags, ct);
        var current = (follower.Tags ?? []).Where(t => t.Type == 1 && t.TagId is not null).Select(t => t.TagId!).ToList();
        var (add, remove) = SyncRules.TagDiff(current, desired);
        if (add.Count == 0 && remove.Count == 0) return new SyncPushResult("WeCom already had these tags");
        await wecom.MarkTagAsync(follower.UserId, externalId!, add, remove, ct);
        return SyncPushResult.Pushed;
    }

    /// <summary>Corp tag ids for the names, creating the missing names in <see cref="TagGroup"/>.</summary>
    async Task<IReadOnlyList<string>> TagIdsAsync(IReadOnlyList<string> names, CancellationToken ct)
    {
        if (names.Count == 0) return [];
        var known = new Dictionary<string, string>(StringComparer.Ordinal);
        // A name in several groups: prefer our own group, so what the platform created is what it maps to.
        foreach (var group in (await wecom.GetCorpTagListAsync(ct)).Where(g => !g.Deleted).OrderBy(g => g.GroupName == TagGroup ? 0 : 1))
            foreach (var tag in group.Tags.Where(t => !t.Deleted))
                known.TryAdd(tag.Name, tag.Id);
        var missing = names.Where(n => !known.ContainsKey(n)).ToList();
        if (missing.Count > 0)
            foreach (var tag in (await wecom.AddCorpTagAsync(TagGroup, missing, ct)).Tags)
                known.TryAdd(tag.Name, tag.Id);
        var unmapped = names.Where(n => !known.ContainsKey(n)).ToList();
        if (unmapped.Count > 0) throw new InvalidOperationException($"WeCom created no tag id for {unmapped.Count} tag name(s).");
        return [.. names.Select(n => known[n])];
    }
}

/// <summary>Shows the contact's newest follow-up as the WeCom remark description (externalcontact/remark).</summary>
public sealed class WeComFollowUpTarget(NpgsqlDataSource db, WeComApiClient wecom) : ISyncTarget
{
    public string Name => SyncTargetNames.WeComFollowUp;

    public async Task<SyncPushResult> PushAsync(SyncChange change, CancellationToken ct)
    {
        var latest = await LatestFollowUpAsync(change.EntityId, ct);
        if (latest is null) return SyncPushResult.NothingToPush("the contact has no follow-up any more");
        var (externalId, follower, why) = await WeComContact.ResolveAsync(db, wecom, change.EntityId, ct);
        if (follower is null) return SyncPushResult.NothingToPush(why!);

        var description = SyncRules.FollowUpDescription(latest.Content, latest.Channel, latest.OccurredAt);
        if (follower.Description == description) return new SyncPushResult("WeCom already showed this follow-up");
        await wecom.UpdateRemarkAsync(follower.UserId, externalId!, remark: null, description, ct);
        return SyncPushResult.Pushed;
    }

    async Task<FollowUpPayload?> LatestFollowUpAsync(Guid contactId, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var row = await conn.QueryFirstOrDefaultAsync<(Guid Id, string Content, string? Channel, DateTime OccurredAt)>(new CommandDefinition("""
            select follow_up_id, content, channel, occurred_at from follow_up
             where contact_id = @contactId order by occurred_at desc, created_at desc limit 1
            """, new { contactId }, cancellationToken: ct));
        return row.Id == Guid.Empty ? null
            : new FollowUpPayload(row.Id, row.Content, row.Channel, DbTime.Utc(row.OccurredAt));
    }
}
