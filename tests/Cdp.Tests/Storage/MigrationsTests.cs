using Cdp.Shared.Storage;
using Cdp.Tests.Support;
using Npgsql;

namespace Cdp.Tests.Storage;

public sealed class MigrationsTests : IAsyncLifetime
{
    readonly string name = "cdp_m_" + Guid.NewGuid().ToString("N")[..12];
    NpgsqlDataSource db = null!;

    public async Task InitializeAsync()
    {
        await using var admin = NpgsqlDataSource.Create(PostgresDatabase.ServerConnectionString);
        await admin.CreateCommand($"create database {name}").ExecuteNonQueryAsync();
        db = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(PostgresDatabase.ServerConnectionString) { Database = name }.ToString());
    }

    public async Task DisposeAsync()
    {
        await db.DisposeAsync();
        await using var admin = NpgsqlDataSource.Create(PostgresDatabase.ServerConnectionString);
        await admin.CreateCommand($"drop database if exists {name} with (force)").ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task Hosts_starting_at_once_apply_each_migration_exactly_once()
    {
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Migrations.ApplyAsync(db)));
        await Migrations.ApplyAsync(db);

        var versions = new List<string>();
        await using (var reader = await db.CreateCommand("select version from schema_migrations order by version").ExecuteReaderAsync())
            while (await reader.ReadAsync()) versions.Add(reader.GetString(0));

        Assert.Equal(Migrations.All.Select(m => m.Version), versions);
        Assert.Contains("0001_customers", versions);
        Assert.Equal(1L, await db.CreateCommand("select count(*) from pg_extension where extname = 'pg_trgm'").ExecuteScalarAsync());
    }
}
