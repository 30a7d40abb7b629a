using System.Text.Json;
using Cdp.Shared.Api;
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
/// PUT /api/contacts/{id}/tags: the contact's tag set is replaced and a <c>wecom_tags</c> sync task recorded in one
/// transaction (save first, then sync), then the push starts in the background.
/// </summary>
public sealed class SaveContactTags(NpgsqlDataSource db, ISyncRunner runner, CustomerViewCache views)
{
    public async Task<TagsSaved> RunAsync(Guid contactId, IReadOnlyList<string?>? tags, CancellationToken ct)
    {
        var normalized = SyncRules.NormalizeTags(tags);
        Guid taskId;
        bool push;
        IReadOnlyList<CustomerRef> changed;
        await using (var conn = await db.OpenConnectionAsync(ct))
        await using (var tx = await conn.BeginTransactionAsync(ct))
        {
            var (found, externalId) = await SidebarContact.LockAsync(conn, tx, contactId, ct);
            if (!found) throw new ApiProblemException(ApiProblem.NotFound($"No contact {contactId}."));
            await conn.ExecuteAsync(new CommandDefinition("""
                delete from customer_tag where contact_id = @contactId and not (tag = any(@tags));
                insert into customer_tag (contact_id, tag) select @contactId, unnest(@tags) on conflict do nothing;
                """, new { contactId, tags = normalized.ToArray() }, tx, cancellationToken: ct));
            push = externalId is not null;
            taskId = await SyncTaskStore.InsertAsync(conn, tx, SyncTargetNames.WeComTags, "contact", contactId,
                JsonSerializer.Serialize(new ContactTagsPayload(normalized), CdpJson.Options),
                push ? null : SidebarContact.NoWeComIdentity, ct);
            changed = await SidebarContact.ViewsShowingAsync(conn, tx, contactId, ct);
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
