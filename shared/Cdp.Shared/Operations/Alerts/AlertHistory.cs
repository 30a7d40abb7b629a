using Cdp.Shared.Storage;
using Dapper;
using Npgsql;

namespace Cdp.Shared.Operations.Alerts;

public sealed record AlertView(
    long AlertId, string Rule, string Level, string State, double Value, double LastValue, double Threshold, string? Detail,
    DateTimeOffset OpenedAt, DateTimeOffset? ResolvedAt, DateTimeOffset? NotifiedAt, DateTimeOffset? ResolutionNotifiedAt);

/// <summary>ops_alert as the API shows it, newest first.</summary>
public sealed class AlertHistory(NpgsqlDataSource db)
{
    public const string Open = "open", Resolved = "resolved";

    public async Task<IReadOnlyList<AlertView>> ListAsync(string? state, int limit, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var rows = await conn.QueryAsync<AlertRow>(new CommandDefinition($"""
            select {AlertRow.Columns} from ops_alert
            {state switch { Open => "where resolved_at is null", Resolved => "where resolved_at is not null", _ => "" }}
            order by alert_id desc limit @limit
            """, new { limit }, cancellationToken: ct));
        return [.. rows.Select(r => new AlertView(r.AlertId, r.Rule, r.Level, r.ResolvedAt is null ? Open : Resolved, r.Value, r.LastValue,
            r.Threshold, r.Detail, DbTime.Utc(r.OpenedAt), DbTime.Utc(r.ResolvedAt), DbTime.Utc(r.NotifiedAt), DbTime.Utc(r.ResolutionNotifiedAt)))];
    }
}

/// <summary>An ops_alert row (select <see cref="Columns"/>).</summary>
sealed class AlertRow
{
    public const string Columns = """
        alert_id as AlertId, rule as Rule, level as Level, value as Value, last_value as LastValue, threshold as Threshold,
        detail as Detail, opened_at as OpenedAt, resolved_at as ResolvedAt, notified_at as NotifiedAt,
        resolution_notified_at as ResolutionNotifiedAt
        """;

    public long AlertId { get; set; }
    public string Rule { get; set; } = "";
    public string Level { get; set; } = "";
    public double Value { get; set; }
    public double LastValue { get; set; }
    public double Threshold { get; set; }
    public string? Detail { get; set; }
    public DateTime OpenedAt { get; set; }
    public DateTime? ResolvedAt { get; set; }
    public DateTime? NotifiedAt { get; set; }
    public DateTime? ResolutionNotifiedAt { get; set; }
}
