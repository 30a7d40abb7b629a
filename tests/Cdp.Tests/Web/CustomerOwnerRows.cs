using Cdp.Tests.Support;
using Dapper;

namespace Cdp.Tests.Web;

/// <summary>A <c>customer_owner</c> row written directly: who sees (and, with wecom_follow, follows) a contact.</summary>
static class CustomerOwnerRows
{
    public static async Task AddAsync(CdpApp app, Guid contactId, string staff, string source, string sourceRef)
    {
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        await conn.ExecuteAsync("""
            insert into customer_owner (entity_type, entity_id, staff_user_id, source, source_ref, since)
            values ('contact', @contactId, @staff, @source, @sourceRef, now())
            """, new { contactId, staff, source, sourceRef });
    }
}
