using System.Text.Json;
using Cdp.Shared.Access;
using Cdp.Shared.Api;
using Cdp.Shared.Channels.WeCom;
using Cdp.Shared.Customers;
using Dapper;
using Npgsql;

namespace Cdp.Shared.Sync;

/// <summary>
/// POST /api/contacts/{id}/follow-ups: the follow-up, a <c>wecom_follow_up</c> sync task and the audit row in one
/// transaction; the push shows the contact's newest follow-up as the WeCom remark description, as the staff member who
/// wrote it (who must follow the contact, see <see cref="SaveContactTags"/>).
/// </summary>
public sealed class AddFollowUp(NpgsqlDataSource db, WeComApiClient wecom, ISyncRunner runner, CustomerViewCache views, TimeProvider clock)
{
    public async Task<FollowUpSaved> RunAsync(
        Guid contactId, string? content, string? channel, DateTimeOffset? occurredAt, AuditActor actor, string? staffUserId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(actor);
        var (text, ch) = SyncRules.ValidateFollowUp(content, channel);
        var checkedExternalId = await SidebarContact.CheckActingStaffAsync(db, wecom, contactId, staffUserId, ct);
        var at = occurredAt ?? clock.GetUtcNow();
        var id = Guid.CreateVersion7();
        Guid taskId;
        bool push;
        await using (var conn = await db.OpenConnectionAsync(ct))
        await using (var tx = await conn.BeginTransactionAsync(ct))
        {
            var (found, externalId) = await SidebarContact.LockAsync(conn, tx, contactId, ct);
            if (!found) throw new ApiProblemException(ApiProblem.NotFound($"No contact {contactId}."));
            SidebarContact.EnsureUnchanged(externalId, checkedExternalId, staffUserId);
            await conn.ExecuteAsync(new CommandDefinition("""
                insert into follow_up (follow_up_id, contact_id, content, channel, occurred_at, created_by)
                values (@id, @contactId, @text, @ch, @at, @createdBy)
                """, new { id, contactId, text, ch, at = at.UtcDateTime, createdBy = actor.Actor }, tx, cancellationToken: ct));
            push = externalId is not null;
            taskId = await SyncTaskStore.InsertAsync(conn, tx, SyncTargetNames.WeComFollowUp, "contact", contactId,
                JsonSerializer.Serialize(new FollowUpPayload(id, text, ch, at), CdpJson.Options),
                push ? null : SidebarContact.NoWeComIdentity, actor.Actor, staffUserId, ct);
            // The channel, never the content: a follow-up is free text about a person.
            await AuditLog.WriteAsync(conn, tx, actor.Did("contact.follow_up.add", "contact", contactId.ToString(),
                new { followUpId = id, channel = ch, syncTaskId = taskId }));
            await tx.CommitAsync(ct);
        }
        await views.InvalidateAsync(CustomerRef.Contact(contactId));
        if (push) await runner.StartAsync(taskId, ct);
        return new FollowUpSaved(id, taskId);
    }
}
