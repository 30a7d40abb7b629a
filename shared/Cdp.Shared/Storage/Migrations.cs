using System.Reflection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Cdp.Shared.Storage;

/// <summary>
/// Applies the ordered SQL files under Storage/Migrations once each, recording them in schema_migrations.
/// A session-level advisory lock makes it safe for several hosts starting at the same moment. Run as the role that
/// owns the database (ConnectionStrings:PostgresOwner) for hosts that work as a role which may only read and write
/// rows: that role is then granted exactly that on every table and sequence.
/// </summary>
public static class Migrations
{
    const long LockId = 7_071_000_001;

    public static IReadOnlyList<(string Version, string Sql)> All { get; } = Load();

    /// <param name="appRole">The role the hosts work as, when it is not the one <paramref name="db"/> signs in as.</param>
    public static async Task ApplyAsync(NpgsqlDataSource db, ILogger? logger = null, CancellationToken ct = default, string? appRole = null)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await Execute(conn, $"select pg_advisory_lock({LockId})", ct);
        try
        {
            // Checked first: a role without CREATE on the schema may still start on an up-to-date database.
            await using (var exists = new NpgsqlCommand("select to_regclass('schema_migrations') is not null", conn))
                if (!(bool)(await exists.ExecuteScalarAsync(ct))!)
                    await Execute(conn, """
                        create table if not exists schema_migrations (
                            version    text primary key,
                            applied_at timestamptz not null default now())
                        """, ct);
            var applied = new HashSet<string>();
            await using (var cmd = new NpgsqlCommand("select version from schema_migrations", conn))
            await using (var reader = await cmd.ExecuteReaderAsync(ct))
                while (await reader.ReadAsync(ct)) applied.Add(reader.GetString(0));

            foreach (var (version, sql) in All.Where(m => !applied.Contains(m.Version)))
            {
                await using var tx = await conn.BeginTransactionAsync(ct);
                await Execute(conn, sql, ct);
                await using (var record = new NpgsqlCommand("insert into schema_migrations (version) values ($1)", conn))
                {
                    record.Parameters.AddWithValue(version);
                    await record.ExecuteNonQueryAsync(ct);
                }
                await tx.CommitAsync(ct);
                logger?.LogInformation("Applied migration {Version}", version);
            }
            // Every registered channel has its row (touchpoints and identities reference it), without a migration per channel.
            foreach (var channel in Ingestion.ChannelRegistry.All)
            {
                await using var row = new NpgsqlCommand(
                    "insert into channel (channel_id, channel_name, channel_type) values ($1, $2, $1) on conflict (channel_id) do nothing", conn);
                row.Parameters.AddWithValue(channel.Name);
                row.Parameters.AddWithValue(channel.DisplayName);
                await row.ExecuteNonQueryAsync(ct);
            }
            if (appRole is not null) await GrantRowsAsync(conn, appRole, logger, ct);
        }
        finally
        {
            await Execute(conn, $"select pg_advisory_unlock({LockId})", CancellationToken.None);
        }
    }

    /// <summary>
    /// Reads and writes of rows (no DDL, no TRUNCATE) on every table and sequence of the schema for the hosts' role,
    /// when it lacks any of them (new tables come with migrations; the check spares catalog writes on every start).
    /// </summary>
    static async Task GrantRowsAsync(NpgsqlConnection conn, string appRole, ILogger? logger, CancellationToken ct)
    {
        await using (var missing = new NpgsqlCommand("""
            select exists (select from pg_class c join pg_namespace n on n.oid = c.relnamespace
                           where n.nspname = 'public' and (
                             (c.relkind in ('r', 'p') and not (has_table_privilege($1, c.oid, 'select') and has_table_privilege($1, c.oid, 'insert')
                                and has_table_privilege($1, c.oid, 'update') and has_table_privilege($1, c.oid, 'delete')))
                             or (c.relkind = 'S' and not has_sequence_privilege($1, c.oid, 'usage'))))
            """, conn))
        {
            missing.Parameters.AddWithValue(appRole);
            if (!(bool)(await missing.ExecuteScalarAsync(ct))!) return;
        }
        var role = "\"" + appRole.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
        await Execute(conn, $"""
            grant select, insert, update, delete on all tables in schema public to {role};
            grant usage, select on all sequences in schema public to {role};
            """, ct);
        logger?.LogInformation("Granted row access on the schema to the hosts' role");
    }

    static async Task Execute(NpgsqlConnection conn, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    static List<(string, string)> Load()
    {
        var assembly = typeof(Migrations).Assembly;
        return assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith("Migrations.", StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(n => (n["Migrations.".Length..^".sql".Length], Read(assembly, n)))
            .ToList();
    }

    static string Read(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
