using System.Text.Json;
using Cdp.Shared.Api;
using Cdp.Shared.Customers;
using Dapper;
using Npgsql;

namespace Cdp.Shared.Sync;

/// <summary>
/// POST /api/contacts/{id}/follow-ups: the follow-up and a <c>wecom_follow_up</c> sync task in one transaction; the
/// push shows the contact's newest follow-up as the WeCom remark description.
/// </summary>
public sealed class AddFollowUp(NpgsqlDataSource db, ISyncRunner runner, CustomerViewCache views, TimeProvider clock)
{
    public async Task<FollowUpSaved> RunAsync(Guid contactId, string? content, string? channel, DateTimeOffset? occurredAt, CancellationToken ct)
    {
        var (text, ch) = SyncRules.ValidateFollowUp(content, channel);
        var at = occurredAt ?? clock.GetUtcNow();
        var id = Guid.CreateVersion7();
        Guid taskId;
        bool push;
        await using (var conn = await db.OpenConnectionAsync(ct))
        await using (var tx = await conn.BeginTransactionAsync(ct))
        {
            var (found, externalId) = await SidebarContact.LockAsync(conn, tx, contactId, ct);
            if (!found) throw new ApiProblemException(ApiProblem.NotFound($"No contact {contactId}."));
            await conn.ExecuteAsync(new CommandDefinition("""
                insert into follow_up (follow_up_id, contact_id, content, channel, occurred_at)
                values (@id, @contactId, @text, @ch, @at)
                """, new { id, contactId, text, ch, at = at.UtcDateTime }, tx, cancellationToken: ct));
            push = externalId is not null;
            taskId = await SyncTaskStore.InsertAsync(conn, tx, SyncTargetNames.WeComFollowUp, "contact", contactId,
                JsonSerializer.Serialize(new FollowUpPayload(id, text, ch, at), CdpJson.Options),
                push ? null : SidebarContact.NoWeComIdentity, ct);
            await tx.CommitAsync(ct);
        }
        await views.InvalidateAsync(CustomerRef.Contact(contactId));
        if (push) await runner.StartAsync(taskId, ct);
        return new FollowUpSaved(id, taskId);
    }
}
