using System.Text.Json;
using Cdp.Shared.Channels.WeCom;
using Cdp.Shared.Storage;
using Dapper;
using Microsoft.Extensions.Options;
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
    /// The contact's external user id and the employee the push acts as (mark_tag and remark act on one employee's
    /// view): <paramref name="actingUserId"/>, the staff member who saved the change, or without one (API keys, admins
    /// without a staff id) the employee who added the contact first (the account owner in the sidebar's sense).
    /// A staff member who no longer follows the contact fails the task: the change is never made as somebody else.
    /// </summary>
    public static async Task<(string? ExternalUserId, WeComFollowUser? FollowUser, string? Why)> ResolveAsync(
        NpgsqlDataSource db, WeComApiClient wecom, Guid contactId, string? actingUserId, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var externalId = await conn.QuerySingleOrDefaultAsync<string?>(new CommandDefinition(
            "select wecom_external_user_id from contact where contact_id = @contactId", new { contactId }, cancellationToken: ct));
        if (string.IsNullOrEmpty(externalId)) return (null, null, "the contact has no WeCom external user id");
        var contact = await wecom.GetExternalContactAsync(externalId, ct);
        if (contact is null) return (externalId, null, "WeCom no longer knows the contact as an external contact");
        if (actingUserId is not null)
            return (externalId, contact.FollowUsers.FirstOrDefault(f => f.UserId == actingUserId)
                ?? throw new SyncRejectedException($"Staff member {actingUserId}, who saved the change, does not follow the contact in WeCom (any more); it is not pushed as anyone else."), null);
        var follower = contact.FollowUsers.OrderBy(f => f.CreateTime).FirstOrDefault();
        return follower is null ? (externalId, null, "no employee follows the contact in WeCom") : (externalId, follower, null);
    }
}

/// <summary>
/// Makes the contact's tags of the platform's own group (<see cref="SyncOptions.TagGroupName"/>) equal the saved tag
/// set, as the acting employee sees the contact. Tags of other groups are left alone.
/// </summary>
public sealed class WeComTagsTarget(NpgsqlDataSource db, WeComApiClient wecom, IOptions<SyncOptions> options) : ISyncTarget
{
    public string Name => SyncTargetNames.WeComTags;

    public async Task<SyncPushResult> PushAsync(SyncChange change, CancellationToken ct)
    {
        var payload = JsonSerializer.Deserialize<ContactTagsPayload>(change.Latest.PayloadJson, CdpJson.Options)
            ?? throw new SyncRejectedException($"Sync task {change.Latest.SyncTaskId} has no tags payload.");
        var (externalId, follower, why) = await WeComContact.ResolveAsync(db, wecom, change.EntityId, change.Latest.ActingUserId, ct);
        if (follower is null) return SyncPushResult.NothingToPush(why!);

        var group = options.Value.TagGroupName;
        var (desired, groupTagIds) = await GroupTagIdsAsync(group, payload.Tags, ct);
        var current = SyncRules.OwnTagIds(follower.Tags ?? [], groupTagIds, group);
        var (add, remove) = SyncRules.TagDiff(current, desired);
        if (add.Count == 0 && remove.Count == 0) return new SyncPushResult("WeCom already had these tags");
        await wecom.MarkTagAsync(follower.UserId, externalId!, add, remove, ct);
        return SyncPushResult.Pushed;
    }

    /// <summary>
    /// Corp tag ids for the names within <paramref name="group"/> (missing names are created there, even when another
    /// group has a tag of that name), and every id the group has ever held (deleted ones included: still ours to remove).
    /// </summary>
    async Task<(IReadOnlyList<string> Desired, IReadOnlySet<string> GroupTagIds)> GroupTagIdsAsync(
        string group, IReadOnlyList<string> names, CancellationToken ct)
    {
        var ours = (await wecom.GetCorpTagListAsync(ct)).Where(g => g.GroupName == group).ToList();
        var groupTagIds = ours.SelectMany(g => g.Tags).Select(t => t.Id).ToHashSet(StringComparer.Ordinal);
        var known = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var tag in ours.Where(g => !g.Deleted).SelectMany(g => g.Tags).Where(t => !t.Deleted))
            known.TryAdd(tag.Name, tag.Id);
        var missing = names.Where(n => !known.ContainsKey(n)).ToList();
        if (missing.Count > 0)
        {
            foreach (var tag in (await wecom.AddCorpTagAsync(group, missing, ct)).Tags.Where(t => !t.Deleted))
            {
                known.TryAdd(tag.Name, tag.Id);
                groupTagIds.Add(tag.Id);
            }
        }
        var unmapped = names.Where(n => !known.ContainsKey(n)).ToList();
        if (unmapped.Count > 0) throw new InvalidOperationException($"WeCom created no tag id for {unmapped.Count} tag name(s).");
        return ([.. names.Select(n => known[n])], groupTagIds);
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
        var (externalId, follower, why) = await WeComContact.ResolveAsync(db, wecom, change.EntityId, change.Latest.ActingUserId, ct);
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
