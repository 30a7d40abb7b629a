using System.Data;
using Cdp.Shared.Api;
using Cdp.Shared.Customers;
using Dapper;
using Npgsql;

namespace Cdp.Shared.Access;

/// <summary>
/// Whose customers a scoped caller (sales, manager) sees: the staff member's own, and a manager's department's.
/// Null from <see cref="Of"/> means the caller is not scoped and sees every record.
/// </summary>
public sealed record ScopeViewer(string StaffUserId, string? Department)
{
    public static ScopeViewer? Of(Caller caller)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (!caller.Scoped) return null;
        // A scoped caller without a userid (not a staff session) owns nothing, so sees nothing.
        return new ScopeViewer(caller.StaffUserId ?? "", caller.Roles.Contains(Roles.Manager) ? caller.Department : null);
    }
}

/// <summary>
/// The one check of "outside a salesperson's scope -> 404" (API.md): a record is visible to a scoped caller when a
/// <c>customer_owner</c> row links it to the caller (or, for a manager, to anyone of their department); an account
/// when one of its contacts is (account_contact_relation) or it is owned itself. The answer for a record outside the
/// scope is word for word the answer for one that does not exist. Routes call <see cref="EnsureVisibleAsync"/> before
/// reading or changing a record; lists filter with <see cref="Visible"/> in their SQL.
/// </summary>
public sealed class CustomerScope(NpgsqlDataSource db)
{
    /// <summary>404 "No {entityType} {id}." unless <paramref name="caller"/> may see the record; unscoped callers always may.</summary>
    public async Task EnsureVisibleAsync(Caller caller, string entityType, Guid id, CancellationToken ct)
    {
        if (ScopeViewer.Of(caller) is not { } viewer) return;
        if (!await IsVisibleAsync(viewer, entityType, id, ct))
            throw new ApiProblemException(ApiProblem.NotFound($"No {entityType} {id}."));
    }

    public async Task<bool> IsVisibleAsync(ScopeViewer viewer, string entityType, Guid id, CancellationToken ct)
    {
        var parameters = Parameters(viewer);
        parameters.Add("id", id);
        await using var conn = await db.OpenConnectionAsync(ct);
        return await conn.ExecuteScalarAsync<bool>(new CommandDefinition($"select {Visible(entityType, "@id")}", parameters, cancellationToken: ct));
    }

    /// <summary>The parameters <see cref="Visible"/> reads: <c>@scopeUser</c> and <c>@scopeDepartment</c>.</summary>
    public static DynamicParameters Parameters(ScopeViewer viewer, object? others = null)
    {
        ArgumentNullException.ThrowIfNull(viewer);
        var parameters = new DynamicParameters(others);
        parameters.Add("scopeUser", viewer.StaffUserId, DbType.String);
        parameters.Add("scopeDepartment", viewer.Department, DbType.String);
        return parameters;
    }

    /// <summary>
    /// A boolean SQL expression: the <paramref name="entityType"/> whose id is <paramref name="id"/> (a column or a
    /// parameter) is visible to the viewer of <see cref="Parameters"/>. Every branch is answered by an index.
    /// </summary>
    public static string Visible(string entityType, string id) => entityType switch
    {
        CustomerRef.LeadKind or CustomerRef.ContactKind => Owned(entityType, id),
        CustomerRef.AccountKind => $"""
            ({Owned(CustomerRef.AccountKind, id)}
             or exists (select 1 from account_contact_relation r
                        join customer_owner o on o.entity_type = 'contact' and o.entity_id = r.contact_id
                        where r.account_id = {id} and {ByViewer}))
            """,
        _ => throw new ArgumentOutOfRangeException(nameof(entityType), entityType, "Scope covers leads, contacts and accounts."),
    };

    static string Owned(string entityType, string id) =>
        $"exists (select 1 from customer_owner o where o.entity_type = '{entityType}' and o.entity_id = {id} and {ByViewer})";

    // The department's members are read with the record, so a member who joins or leaves a department counts at once.
    const string ByViewer = "(o.staff_user_id = @scopeUser or o.staff_user_id in (select s.user_id from staff s where s.department = @scopeDepartment))";
}

public static class CustomerScopeCalls
{
    /// <summary>The scope check of a route: 404, as for a record that does not exist, when the caller may not see it.</summary>
    public static Task EnsureVisibleAsync(this ApiCall call, string entityType, Guid id)
    {
        ArgumentNullException.ThrowIfNull(call);
        return call.Service<CustomerScope>().EnsureVisibleAsync(call.Caller, entityType, id, call.Aborted);
    }
}
