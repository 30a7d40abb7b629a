using Cdp.Shared.Storage;
using Dapper;
using Npgsql;

namespace Cdp.Shared.Access;

public sealed record StaffMember(string UserId, string? Name, string? Department, IReadOnlyList<string> Roles, string? Mobile, bool Active, DateTimeOffset UpdatedAt);

/// <summary>The staff table: WeCom members who signed in or were granted roles. A member nobody granted has no role.</summary>
public sealed class StaffDirectory(NpgsqlDataSource db)
{
    const string Columns = "user_id, name, department, roles, mobile, active, updated_at";

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

    /// <summary>Sets roles (and the member's own mobile when given) inside the caller's transaction, so the audit row commits with it.</summary>
    public async Task<StaffMember> SetAsync(NpgsqlConnection conn, NpgsqlTransaction tx, string userId, IReadOnlyList<string> roles, string? mobile, bool? active) =>
        (await conn.QuerySingleAsync<Row>($"""
            insert into staff (user_id, roles, mobile, active) values (@userId, @roles, @mobile, coalesce(@active, true))
            on conflict (user_id) do update set roles = excluded.roles, mobile = coalesce(@mobile, staff.mobile),
                active = coalesce(@active, staff.active), updated_at = now()
            returning {Columns}
            """, new { userId, roles = roles.ToArray(), mobile, active }, tx)).ToMember();

    // Properties, not a positional record: Dapper's constructor matching sees a text[] column as System.Array, not string[].
#pragma warning disable IDE1006
    sealed class Row
    {
        public string user_id { get; set; } = "";
        public string? name { get; set; }
        public string? department { get; set; }
        public string[] roles { get; set; } = [];
        public string? mobile { get; set; }
        public bool active { get; set; }
        public DateTime updated_at { get; set; }

        public StaffMember ToMember() => new(user_id, name, department, roles, mobile, active, DbTime.Utc(updated_at));
    }
#pragma warning restore IDE1006
}
