using Dapper;

namespace Cdp.Tests.Support;

/// <summary>Scope rows as the WeCom follow sync writes them, for tests that act as a salesperson.</summary>
public static class CustomerOwners
{
    /// <summary>Makes <paramref name="userId"/> a follower (owner) of the contact, so a scoped caller sees it.</summary>
    public static async Task FollowAsync(this CdpBackend backend, Guid contactId, string userId, string? externalUserId)
    {
        await using var conn = await backend.Database.DataSource.OpenConnectionAsync();
        await conn.ExecuteAsync("""
            insert into customer_owner (entity_type, entity_id, staff_user_id, source, source_ref, since)
            values ('contact', @contactId, @userId, 'wecom_follow', @externalUserId, now())
            """, new { contactId, userId, externalUserId = externalUserId ?? "" });
    }
}
