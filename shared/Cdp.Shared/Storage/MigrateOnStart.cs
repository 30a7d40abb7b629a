using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Cdp.Shared.Storage;

/// <summary>Brings the schema up to date before any consumer or endpoint touches it.</summary>
public sealed class MigrateOnStart(NpgsqlDataSource db, ILogger<MigrateOnStart> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => Migrations.ApplyAsync(db, logger, cancellationToken);
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
