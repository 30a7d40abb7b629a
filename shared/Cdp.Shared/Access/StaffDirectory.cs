using Cdp.Shared.Storage;
using Dapper;
using Npgsql;

namespace Cdp.Shared.Access;

public sealed record StaffMember(string UserId, string? Name, string? Department, IReadOnlyList<string> Roles, string? Mobile, bool Active, DateTimeOffset UpdatedAt);

/// <summary>The staff table: WeCom members who signed in or were granted roles. A member nobody granted has no role.</summary>
public sealed class StaffDirectory(NpgsqlDataSource db)
{
    const string Columns = "user_id as UserId, name, department, roles, mobile, active, updated_at as UpdatedAt";

    public async Task<StaffMember?> GetAsync(string userId, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        return (await conn.QuerySingleOrDefaultAsync<Row>(new CommandDefinition(
            $"select {Columns} from staff where user_id = @userId", new { userId }, cancellationToken: ct)))?.ToMember();
    }

    public async Task<IReadOnlyList<StaffMember>> ListAsync(CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        return (await conn.QueryAsync<Row>(new CommandDefinition($"select {Columns} from staff order by user_id", cancellationToken: ct)))
            .Select(r => r.ToMember()).ToList();
    }

    /// <summary>Records a member seen at sign-in (name and department from WeCom when it gave them); roles are untouched.</summary>
    public async Task<StaffMember> SeenAsync(string userId, string? name, string? department, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        return (await conn.QuerySingleAsync<Row>(new CommandDefinition($"""
            insert into staff (user_id, name, department) values (@userId, @name, @department)
            on conflict (user_id) do update set name = coalesce(excluded.name, staff.name), department = coalesce(excluded.department, staff.department)
            returning {Columns}
            """, new { userId, name, department }, cancellationToken: ct))).ToMember();
    }

    /// <summary>
    /// Sets roles (and the member's own mobile and department when given) inside the caller's transaction, so the audit
    /// row commits with it. The department is a manager's scope; WeCom gives it only to apps allowed to read members.
    /// </summary>
    public async Task<StaffMember> SetAsync(NpgsqlConnection conn, NpgsqlTransaction tx, string userId, IReadOnlyList<string> roles, string? mobile, bool? active,
        string? department = null) =>
        (await conn.QuerySingleAsync<Row>($"""
            insert into staff (user_id, roles, mobile, active, department) values (@userId, @roles, @mobile, coalesce(@active, true), @department)
            on conflict (user_id) do update set roles = excluded.roles, mobile = coalesce(@mobile, staff.mobile),
                active = coalesce(@active, staff.active), department = coalesce(@department, staff.department), updated_at = now()
            returning {Columns}
            """, new { userId, roles = roles.ToArray(), mobile, active, department }, tx)).ToMember();

    sealed class Row
    {
        public string UserId { get; set; } = "";
        public string? Name { get; set; }
        public string? Department { get; set; }
        public string[] Roles { get; set; } = [];
        public string? Mobile { get; set; }
        public bool Active { get; set; }
        public DateTime UpdatedAt { get; set; }

        public StaffMember ToMember() => new(UserId, Name, Department, Roles, Mobile, Active, DbTime.Utc(UpdatedAt));
    }
}
