using Cdp.Shared.Access;
using Cdp.Shared.Api;
using Dapper;
using Npgsql;

namespace Cdp.Shared.Customers;

/// <summary>Body of <c>POST /api/pii/reveal</c>: one field of one record.</summary>
public sealed record RevealBody(string? EntityType, string? EntityId, string? Field);

/// <summary>The answer: the field's full value (null when the record holds none).</summary>
public sealed record RevealedField(string EntityType, Guid EntityId, string Field, string? Value);

/// <summary>A checked reveal request: the record and the column that holds the field.</summary>
public sealed record RevealRequest(string EntityType, Guid EntityId, string Field, string Table, string IdColumn, string Column);

/// <summary>
/// <c>POST /api/pii/reveal</c> (pii:reveal): the full value of one masked field of one contact or lead, read and
/// audited (<c>pii.reveal</c>, the field's name — never its value) in one transaction, so a value is never given
/// without its row. Accounts are companies: they hold no personal field.
/// </summary>
public sealed class RevealPiiField(NpgsqlDataSource db)
{
    /// <summary>The fields a caller without pii:reveal sees masked, by their names in the views, and their columns.</summary>
    static readonly IReadOnlyDictionary<string, (string Table, string IdColumn, IReadOnlyDictionary<string, string> Columns)> Fields =
        new Dictionary<string, (string, string, IReadOnlyDictionary<string, string>)>
        {
            [CustomerRef.ContactKind] = ("contact", "contact_id", new Dictionary<string, string>
            {
                ["mobilePhone"] = "mobile_phone", ["email"] = "email", ["phone"] = "phone",
                ["weChatId"] = "wechat_id", ["weComExternalUserId"] = "wecom_external_user_id",
            }),
            [CustomerRef.LeadKind] = ("lead", "lead_id", new Dictionary<string, string> { ["mobilePhone"] = "mobile_phone", ["email"] = "email", ["phone"] = "phone" }),
            [CustomerRef.AccountKind] = ("account", "account_id", new Dictionary<string, string>()),
        };

    /// <summary>Checks the body: 422 naming every field that breaks a rule (an unknown type or field, an id that is no UUID).</summary>
    public static RevealRequest Check(RevealBody body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var errors = new Dictionary<string, string[]>();
        if (!Guid.TryParse(body.EntityId, out var id)) errors["entityId"] = ["Required: the record's id (a UUID)."];
        string? column = null;
        if (body.EntityType is not { } type || !Fields.TryGetValue(type, out var entity))
            errors["entityType"] = ["Must be contact, lead or account."];
        else if (body.Field is null || !entity.Columns.TryGetValue(body.Field, out column))
            errors["field"] = [entity.Columns.Count == 0
                ? $"A {type} holds no personal field; reveal its contacts' fields instead."
                : $"Must be one of {string.Join(", ", entity.Columns.Keys)}."];
        if (errors.Count > 0 || column is null) throw new ApiProblemException(ApiProblem.Unprocessable(errors));
        var (table, idColumn, _) = Fields[body.EntityType!];
        return new RevealRequest(body.EntityType!, id, body.Field!, table, idColumn, column);
    }

    /// <summary>The value with its audit row, or null (404) when there is no such record (nothing audited: nothing was read).</summary>
    public async Task<RevealedField?> RunAsync(RevealRequest request, AuditActor actor, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(actor);
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        // Table and columns come from the map above, never from the request.
        var row = await conn.QuerySingleOrDefaultAsync<Row>(new CommandDefinition(
            $"select {request.Column} as Value from {request.Table} where {request.IdColumn} = @id",
            new { id = request.EntityId }, tx, cancellationToken: ct));
        if (row is null) return null;
        await AuditLog.WriteAsync(conn, tx, actor.Did(PiiReads.RevealAction, request.EntityType, request.EntityId.ToString(), new { field = request.Field }));
        await tx.CommitAsync(ct);
        return new RevealedField(request.EntityType, request.EntityId, request.Field, row.Value);
    }

    sealed class Row
    {
        public string? Value { get; set; }
    }
}
