using Cdp.Shared.Storage;
using Cdp.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
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
        await PostgresDatabase.DropAsync(name);
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

    /// <summary>
    /// ConnectionStrings:PostgresOwner set: the owner role migrates, the hosts' role gets rows only; a later start with
    /// the hosts' role alone finds nothing to do (and needs no CREATE on the schema for that).
    /// </summary>
    [Fact]
    public async Task With_an_owner_connection_the_owner_migrates_and_the_hosts_role_gets_rows_only()
    {
        var app = new NpgsqlConnectionStringBuilder(LocalServers.Postgres) { Database = name, Pooling = false }.ToString();
        var owner = new NpgsqlConnectionStringBuilder(PostgresDatabase.ServerConnectionString) { Database = name, Pooling = false }.ToString();
        await using var appDb = NpgsqlDataSource.Create(app);
        var settings = new Dictionary<string, string?> { ["ConnectionStrings:Postgres"] = app, ["ConnectionStrings:PostgresOwner"] = owner };
        await new MigrateOnStart(appDb, new ConfigurationBuilder().AddInMemoryCollection(settings).Build(), NullLogger<MigrateOnStart>.Instance)
            .StartAsync(CancellationToken.None);

        Assert.Equal(new NpgsqlConnectionStringBuilder(owner).Username,
            await db.CreateCommand("select pg_get_userbyid(relowner) from pg_class where relname = 'staff'").ExecuteScalarAsync());
        Assert.Equal(1, await appDb.CreateCommand("insert into staff (user_id) values ('migrated') on conflict do nothing").ExecuteNonQueryAsync());
        if (PostgresDatabase.AppRole is not null)
        {
            var refused = await Assert.ThrowsAsync<PostgresException>(() => appDb.CreateCommand("create table intruder (id int)").ExecuteNonQueryAsync());
            Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, refused.SqlState);
        }

        settings.Remove("ConnectionStrings:PostgresOwner");
        await new MigrateOnStart(appDb, new ConfigurationBuilder().AddInMemoryCollection(settings).Build(), NullLogger<MigrateOnStart>.Instance)
            .StartAsync(CancellationToken.None);
    }
}
