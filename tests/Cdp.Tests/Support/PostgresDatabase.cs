using System.Security.Cryptography;
using System.Text;
using Cdp.Shared.Storage;
using Npgsql;

namespace Cdp.Tests.Support;

/// <summary>
/// A fresh, migrated database of its own for a test class (IClassFixture), copied from a template that is
/// migrated once per schema version, and dropped afterwards. Tests in the class isolate by unique data. The owner
/// role creates, migrates and drops it; <see cref="ConnectionString"/> and <see cref="DataSource"/> work as the
/// hosts' role, which may only read and write rows, as in production.
/// </summary>
public sealed class PostgresDatabase : IAsyncLifetime
{
    /// <summary>The owner role on the server's main database (it may create databases).</summary>
    public static readonly string ServerConnectionString = LocalServers.PostgresOwner;

    /// <summary>The hosts' role, when it is not the owner (row access is granted to it after migrating).</summary>
    public static readonly string? AppRole = new NpgsqlConnectionStringBuilder(LocalServers.Postgres).Username is { } app
        && app != new NpgsqlConnectionStringBuilder(ServerConnectionString).Username ? app : null;

    static readonly SemaphoreSlim CreateGate = new(1, 1);
    static readonly string TemplateName = "cdp_tpl_" + SchemaHash();
    static bool templateReady;

    public string Name { get; } = "cdp_t_" + Guid.NewGuid().ToString("N")[..12];
    public string ConnectionString { get; private set; } = "";
    public string OwnerConnectionString { get; private set; } = "";
    public NpgsqlDataSource DataSource { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await CreateGate.WaitAsync();
        try
        {
            if (!templateReady) await EnsureTemplateAsync();
            // Copying a template needs it idle, so creations are serialised within the run.
            await Admin($"create database {Name} template {TemplateName}");
        }
        finally { CreateGate.Release(); }
        ConnectionString = new NpgsqlConnectionStringBuilder(LocalServers.Postgres) { Database = Name, MaxPoolSize = 50 }.ToString();
        OwnerConnectionString = new NpgsqlConnectionStringBuilder(ServerConnectionString) { Database = Name, Pooling = false }.ToString();
        DataSource = NpgsqlDataSource.Create(ConnectionString);
    }

    public async Task DisposeAsync()
    {
        await DataSource.DisposeAsync();
        NpgsqlConnection.ClearAllPools();
        await DropAsync(Name);
    }

    static async Task EnsureTemplateAsync()
    {
        await using (var conn = new NpgsqlConnection(ServerConnectionString))
        {
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand("select count(*) from pg_database where datname = $1", conn);
            cmd.Parameters.AddWithValue(TemplateName);
            if ((long)(await cmd.ExecuteScalarAsync())! == 0)
            {
                var building = TemplateName + "_build";
                await DropAsync(building);
                await Admin($"create database {building}");
                var cs = new NpgsqlConnectionStringBuilder(ServerConnectionString) { Database = building, Pooling = false }.ToString();
                await using (var db = NpgsqlDataSource.Create(cs)) await Migrations.ApplyAsync(db, appRole: AppRole);
                // Renamed only when complete, so an interrupted run never leaves a half-migrated template.
                await Admin($"alter database {building} rename to {TemplateName}");
                await DropOldTemplatesAsync(conn);
            }
        }
        templateReady = true;
    }

    /// <summary>
    /// Templates of earlier schema versions, which nothing uses once the migrations change, except the newest few (a
    /// run of another checkout may still copy one).
    /// </summary>
    static async Task DropOldTemplatesAsync(NpgsqlConnection conn)
    {
        const int Kept = 3;
        var old = new List<string>();
        await using (var cmd = new NpgsqlCommand(
            "select datname from pg_database where datname ~ '^cdp_tpl_[0-9a-f]{12}(_build)?$' order by oid desc offset $1", conn))
        {
            cmd.Parameters.AddWithValue(Kept);
            await using var reader = await cmd.ExecuteReaderAsync();
            while (await reader.ReadAsync()) old.Add(reader.GetString(0));
        }

        foreach (var name in old.Where(n => n != TemplateName))
        {
            try { await Admin($"drop database if exists {name}"); }
            catch (PostgresException) { }   // in use by another run right now: the next new template tries again
        }
    }

    /// <summary>
    /// Drops a database and ends its sessions. An autovacuum worker busy in a freshly migrated database is no session
    /// of a role the owner may end (42501): it finishes on its own within moments, so the drop is tried again.
    /// </summary>
    public static async Task DropAsync(string name)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await Admin($"drop database if exists {name} with (force)");
                return;
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InsufficientPrivilege && attempt < 50)
            {
                await Task.Delay(200);
            }
        }
    }

    static async Task Admin(string sql)
    {
        var cs = new NpgsqlConnectionStringBuilder(ServerConnectionString) { Pooling = false }.ToString();
        await using var conn = new NpgsqlConnection(cs);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync();
    }

    static string SchemaHash()
    {
        var all = string.Concat(Migrations.All.Select(m => m.Version + m.Sql));
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(all)))[..12];
    }
}
