using Cdp.Shared.Customers;
using Cdp.Shared.Ingestion;
using Npgsql;
using NpgsqlTypes;

namespace Cdp.Shared.Access;

/// <summary>
/// The writes of <c>customer_owner</c> (who <see cref="CustomerScope"/> lets see a record), as commands for the batch
/// of the transaction that creates, merges or converts the record, so a record and its owners commit together.
/// Each source record replaces what it said before: a WeCom contact's follower list, a CRM record's owner.
/// </summary>
public static class CustomerOwners
{
    public const string WeComFollow = "wecom_follow", CrmOwner = "crm_owner", Conversion = "conversion";

    /// <summary>What a resolved channel record says about the owners of the entity it resolved to.</summary>
    public static IEnumerable<NpgsqlBatchCommand> OfRecord(CustomerRecord record, string entityType, Guid entityId)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (record.Followers is { } followers && record.WeComExternalUserId is { } externalUserId && entityType == CustomerRef.ContactKind)
        {
            foreach (var command in Follows(entityId, externalUserId, followers)) yield return command;
        }
        if (record.OwnerId is { } ownerId)
        {
            foreach (var command in Owner(entityType, entityId, $"{record.Channel}:{record.SourceId}", ownerId, record.ModifiedAt)) yield return command;
        }
    }

    /// <summary>The followers of one external contact, as WeCom lists them now: who is missing no longer follows.</summary>
    public static IEnumerable<NpgsqlBatchCommand> Follows(Guid contactId, string externalUserId, IReadOnlyList<Follower> followers)
    {
        ArgumentNullException.ThrowIfNull(followers);
        var distinct = followers.DistinctBy(f => f.UserId).ToList();
        var staff = distinct.Select(f => f.UserId).ToArray();
        yield return Command("""
            delete from customer_owner where source = 'wecom_follow' and source_ref = @ref and not (staff_user_id = any(@staff))
            """, ("ref", externalUserId), ("staff", staff));
        if (staff.Length == 0) yield break;
        yield return Command("""
            insert into customer_owner (entity_type, entity_id, staff_user_id, source, source_ref, since)
            select 'contact', @contactId, f.staff, 'wecom_follow', @ref, f.since from unnest(@staff, @since) as f(staff, since)
            on conflict (entity_type, entity_id, staff_user_id, source, source_ref) do update set since = excluded.since
            """, ("contactId", contactId), ("ref", externalUserId), ("staff", staff),
            ("since", distinct.Select(f => f.Since.UtcDateTime).ToArray()));
    }

    /// <summary>
    /// WeCom's <c>del_follow_user</c> / <c>del_external_contact</c>: <paramref name="staffUserId"/> no longer follows the
    /// external contact. Applied when the callback is read, since WeCom may no longer return a contact nobody follows.
    /// </summary>
    public static NpgsqlBatchCommand Unfollow(string externalUserId, string staffUserId) => Command("""
        delete from customer_owner where source = 'wecom_follow' and source_ref = @ref and staff_user_id = @staff
        """, ("ref", externalUserId), ("staff", staffUserId));

    /// <summary>
    /// A source record's owner as of <paramref name="at"/>: replaces the owner that record named before, unless the
    /// record already said something newer (versions may arrive out of order; newest wins, as for fields).
    /// </summary>
    public static IEnumerable<NpgsqlBatchCommand> Owner(string entityType, Guid entityId, string sourceRef, string ownerId, DateTimeOffset at)
    {
        var parameters = new (string, object)[] { ("type", entityType), ("id", entityId), ("ref", sourceRef), ("owner", ownerId), ("at", at.UtcDateTime) };
        yield return Command("""
            delete from customer_owner where source = 'crm_owner' and source_ref = @ref and staff_user_id <> @owner and since <= @at
            """, parameters);
        yield return Command("""
            insert into customer_owner (entity_type, entity_id, staff_user_id, source, source_ref, since)
            select @type, @id, @owner, 'crm_owner', @ref, @at
            where not exists (select 1 from customer_owner where source = 'crm_owner' and source_ref = @ref and staff_user_id <> @owner and since > @at)
            on conflict (entity_type, entity_id, staff_user_id, source, source_ref) do update set since = greatest(customer_owner.since, excluded.since)
            """, parameters);
    }

    /// <summary>
    /// A converted lead's contact belongs to whoever owned the lead and to the conversion's <c>ownerId</c>, so the
    /// salesperson who converts keeps seeing the customer (and, through the contact, its account).
    /// </summary>
    public static NpgsqlBatchCommand Converted(Guid leadId, Guid contactId, string? ownerId, DateTimeOffset at) => Command("""
        insert into customer_owner (entity_type, entity_id, staff_user_id, source, source_ref, since)
        select 'contact', @contactId, s.staff, 'conversion', @ref, @at
        from (select staff_user_id as staff from customer_owner where entity_type = 'lead' and entity_id = @leadId
              union select @owner where @owner is not null) s
        on conflict (entity_type, entity_id, staff_user_id, source, source_ref) do nothing
        """, ("contactId", contactId), ("leadId", leadId), ("ref", leadId.ToString()), ("at", at.UtcDateTime),
        ("owner", ownerId?.Trim() is { Length: > 0 } owner ? owner : DBNull.Value));

    static NpgsqlBatchCommand Command(string sql, params (string Name, object Value)[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var (name, value) in parameters)
        {
            // Text typed explicitly: a null owner has no CLR type to infer one from.
            command.Parameters.Add(value is string or DBNull
                ? new NpgsqlParameter(name, NpgsqlDbType.Text) { Value = value }
                : new NpgsqlParameter(name, value));
        }
        return command;
    }
}
