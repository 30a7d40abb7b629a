using System.Text.Json;
using Cdp.Shared.Access;
using Cdp.Shared.Api;
using Cdp.Shared.Channels.WeCom;
using Cdp.Shared.Customers;
using Dapper;
using Npgsql;

namespace Cdp.Shared.Sync;

/// <summary>Starts the sync-then-retry run of a saved task (the orchestration, locally or on Azure).</summary>
public interface ISyncRunner
{
    Task StartAsync(Guid syncTaskId, CancellationToken ct);
}

/// <summary>Answers of the sidebar use cases.</summary>
public sealed record TagsSaved(Guid SyncTaskId);

public sealed record FollowUpSaved(Guid Id, Guid SyncTaskId);

/// <summary>
/// PUT /api/contacts/{id}/tags: the contact's tag set is replaced, a <c>wecom_tags</c> sync task recorded and the
/// change audited in one transaction (save first, then sync), then the push starts in the background. A signed-in
/// staff member's change is pushed as that member (<paramref name="staffUserId"/>), so it is refused unless they follow
/// the contact in WeCom.
/// </summary>
public sealed class SaveContactTags(NpgsqlDataSource db, WeComApiClient wecom, ISyncRunner runner, CustomerViewCache views)
{
    public async Task<TagsSaved> RunAsync(Guid contactId, IReadOnlyList<string?>? tags, AuditActor actor, string? staffUserId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(actor);
        var normalized = SyncRules.NormalizeTags(tags);
        var checkedExternalId = await SidebarContact.CheckActingStaffAsync(db, wecom, contactId, staffUserId, ct);
        Guid taskId;
        bool push;
        IReadOnlyList<CustomerRef> changed;
        await using (var conn = await db.OpenConnectionAsync(ct))
        await using (var tx = await conn.BeginTransactionAsync(ct))
        {
            var (found, externalId) = await SidebarContact.LockAsync(conn, tx, contactId, ct);
            if (!found) throw new ApiProblemException(ApiProblem.NotFound($"No contact {contactId}."));
            SidebarContact.EnsureUnchanged(externalId, checkedExternalId, staffUserId);
            await conn.ExecuteAsync(new CommandDefinition("""
                delete from customer_tag where contact_id = @contactId and not (tag = any(@tags));
                insert into customer_tag (contact_id, tag) select @contactId, unnest(@tags) on conflict do nothing;
                """, new { contactId, tags = normalized.ToArray() }, tx, cancellationToken: ct));
            push = externalId is not null;
            taskId = await SyncTaskStore.InsertAsync(conn, tx, SyncTargetNames.WeComTags, "contact", contactId,
                JsonSerializer.Serialize(new ContactTagsPayload(normalized), CdpJson.Options),
                push ? null : SidebarContact.NoWeComIdentity, actor.Actor, staffUserId, ct);
            changed = await SidebarContact.ViewsShowingAsync(conn, tx, contactId, ct);
            // Counts, not names: a tag is whatever a salesperson typed.
            await AuditLog.WriteAsync(conn, tx, actor.Did("contact.tags.save", "contact", contactId.ToString(),
                new { tags = normalized.Count, syncTaskId = taskId }));
            await tx.CommitAsync(ct);
        }
        await views.InvalidateAsync(changed);
        if (push) await runner.StartAsync(taskId, ct);
        return new TagsSaved(taskId);
    }
}

static class SidebarContact
{
    public const string NoWeComIdentity = "nothing to push: the contact has no WeCom external user id";

    /// <summary>
    /// A staff member's change is pushed to WeCom as that member, and WeCom lets a member change only a contact they
    /// follow: checked before anything is saved (403), instead of a push that fails later or acts as somebody else.
    /// WeCom not answering is 503, nothing saved. Returns the external user id the check was made for (null: none to
    /// check — no staff member, no such contact, or a contact without a WeCom identity, which is never pushed).
    /// </summary>
    public static async Task<string?> CheckActingStaffAsync(
        NpgsqlDataSource db, WeComApiClient wecom, Guid contactId, string? staffUserId, CancellationToken ct)
    {
        if (staffUserId is null) return null;
        string? externalId;
        await using (var conn = await db.OpenConnectionAsync(ct))
            externalId = await conn.QuerySingleOrDefaultAsync<string?>(new CommandDefinition(
                "select wecom_external_user_id from contact where contact_id = @contactId", new { contactId }, cancellationToken: ct));
        if (string.IsNullOrEmpty(externalId)) return null;
        WeComExternalContact? contact;
        try
        {
            contact = await wecom.GetExternalContactAsync(externalId, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // Fails closed: acting in WeCom as someone who may not follow the contact is what the check prevents.
            throw new ApiProblemException(ApiProblem.Unavailable(
                $"WeCom did not confirm that you follow this contact ({e.GetType().Name}), so nothing was saved; retry shortly."));
        }
        // WeCom no longer knowing the contact leaves nothing to push as anyone: the save goes ahead.
        if (contact is not null && contact.FollowUsers.All(f => f.UserId != staffUserId))
            throw new ApiProblemException(ApiProblem.Forbidden(
                "You do not follow this contact in WeCom, so the change cannot be made in WeCom as you; nothing was saved."));
        return externalId;
    }

    /// <summary>The contact's WeCom identity changed between the follower check and the lock (a merge): ask again.</summary>
    public static void EnsureUnchanged(string? externalId, string? checkedExternalId, string? staffUserId)
    {
        if (staffUserId is not null && externalId is not null && externalId != checkedExternalId)
            throw new ApiProblemException(ApiProblem.Conflict("The contact's WeCom identity changed while saving; nothing was saved, retry."));
    }

    /// <summary>
    /// Locks the contact row so concurrent saves of one contact take their change numbers in commit order, and returns
    /// its WeCom external user id.
    /// </summary>
    public static async Task<(bool Found, string? ExternalUserId)> LockAsync(NpgsqlConnection conn, NpgsqlTransaction tx, Guid contactId, CancellationToken ct)
    {
        var row = await conn.QuerySingleOrDefaultAsync<ContactRow>(new CommandDefinition(
            "select contact_id as Id, wecom_external_user_id as ExternalUserId from contact where contact_id = @contactId for update",
            new { contactId }, tx, cancellationToken: ct));
        return row is null ? (false, null) : (true, string.IsNullOrEmpty(row.ExternalUserId) ? null : row.ExternalUserId);
    }

    /// <summary>The contact and the leads converted into it: their views show the contact's tags.</summary>
    public static async Task<IReadOnlyList<CustomerRef>> ViewsShowingAsync(NpgsqlConnection conn, NpgsqlTransaction tx, Guid contactId, CancellationToken ct)
    {
        var leads = await conn.QueryAsync<Guid>(new CommandDefinition(
            "select lead_id from lead where converted_contact_id = @contactId", new { contactId }, tx, cancellationToken: ct));
        return [CustomerRef.Contact(contactId), .. leads.Select(CustomerRef.Lead)];
    }

    sealed class ContactRow
    {
        public Guid Id { get; set; }
        public string? ExternalUserId { get; set; }
    }
}
