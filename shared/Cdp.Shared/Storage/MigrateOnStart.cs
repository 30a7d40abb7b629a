using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Cdp.Shared.Storage;

/// <summary>
/// Brings the schema up to date before any consumer or endpoint touches it. With ConnectionStrings:PostgresOwner
/// (the role that owns the database) the migrations run as that role and the hosts' own role (ConnectionStrings:
/// Postgres) gets row access only; without it they run on the main connection, as before.
/// </summary>
public sealed class MigrateOnStart(NpgsqlDataSource db, IConfiguration configuration, ILogger<MigrateOnStart> logger) : IHostedService
{
    public const string OwnerConnectionString = "PostgresOwner";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var owner = configuration.GetConnectionString(OwnerConnectionString);
        if (string.IsNullOrWhiteSpace(owner))
        {
            await Migrations.ApplyAsync(db, logger, cancellationToken);
            return;
        }
        var ownerBuilder = new NpgsqlConnectionStringBuilder(owner) { Pooling = false };
        var appRole = new NpgsqlConnectionStringBuilder(db.ConnectionString).Username;
        await using var ownerDb = NpgsqlDataSource.Create(ownerBuilder.ConnectionString);
        await Migrations.ApplyAsync(ownerDb, logger, cancellationToken,
            appRole is not null && appRole != ownerBuilder.Username ? appRole : null);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
