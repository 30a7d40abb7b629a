using System.Reflection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Cdp.Shared.Storage;

/// <summary>
/// Applies the ordered SQL files under Storage/Migrations once each, recording them in schema_migrations.
/// A session-level advisory lock makes it safe for several hosts starting at the same moment.
/// </summary>
public static class Migrations
{
    const long LockId = 7_071_000_001;

    public static IReadOnlyList<(string Version, string Sql)> All { get; } = Load();

    public static async Task ApplyAsync(NpgsqlDataSource db, ILogger? logger = null, CancellationToken ct = default)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await Execute(conn, $"select pg_advisory_lock({LockId})", ct);
        try
        {
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
        }
        finally
        {
            await Execute(conn, $"select pg_advisory_unlock({LockId})", CancellationToken.None);
        }
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
