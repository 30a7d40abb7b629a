using System.Collections.Concurrent;
using Cdp.Orchestrations;
using Cdp.Orchestrations.Engine;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Cdp.Tests.Orchestrations;

/// <summary>A service provider with the sample orchestrations on a test database, and workers started on demand.</summary>
sealed class OrchestrationTestKit : IAsyncDisposable
{
    readonly List<OrchestrationWorker> started = [];

    public OrchestrationTestKit(NpgsqlDataSource db)
    {
        Db = db;
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        services.AddSingleton(typeof(ILogger<>), typeof(NullLogger<>));
        services.AddSingleton(db);
        services.AddOrchestrator<Chain>().AddOrchestrator<Retrying>().AddOrchestrator<Catching>().AddOrchestrator<Sleeper>()
            .AddOrchestrator<Approval>().AddOrchestrator<LateApproval>().AddOrchestrator<Parent>().AddOrchestrator<GuidRecorder>()
            .AddOrchestrator<Flipper>().AddOrchestrator<FailingParent>()
            .AddOrchestrator<Gated>().AddOrchestrator<LongChain>();
        services.AddActivity<AddOne>().AddActivity<Flaky>().AddActivity<Record>().AddActivity<Gate>().AddActivity<Pause>();
        services.AddLocalOrchestrations();
        Services = services.BuildServiceProvider();
        Client = Services.GetRequiredService<IOrchestrationClient>();
    }

    public NpgsqlDataSource Db { get; }
    public ServiceProvider Services { get; }
    public IOrchestrationClient Client { get; }

    public static OrchestrationOptions Fast() => new()
    {
        LeaseDuration = TimeSpan.FromSeconds(5),
        PollInterval = TimeSpan.FromMilliseconds(20),
        Concurrency = 8,
        ShutdownGrace = TimeSpan.FromSeconds(2),
    };

    public OrchestrationWorker Worker(OrchestrationOptions? options = null, string? id = null) =>
        new(Services, Services.GetRequiredService<OrchestrationRegistry>(), Db, options ?? Fast(), NullLogger.Instance, id);

    public async Task<OrchestrationWorker> StartWorker(OrchestrationOptions? options = null, string? id = null)
    {
        var worker = Worker(options, id);
        await worker.StartAsync(CancellationToken.None);
        started.Add(worker);
        return worker;
    }

    public async Task StopWorker(OrchestrationWorker worker)
    {
        await worker.StopAsync(CancellationToken.None);
        started.Remove(worker);
        worker.Dispose();
    }

    public async Task<OrchestrationStatus> Run(string name, object? input, string? id = null, double seconds = 15)
    {
        var instanceId = await Client.StartAsync(name, input, id);
        var status = await Client.WaitForCompletionAsync(instanceId, TimeSpan.FromSeconds(seconds));
        Assert.True(status.IsFinished, $"{name} {instanceId} still {status.RuntimeStatus} after {seconds} s");
        return status;
    }

    public async Task<long> Count(string sql, params object[] args)
    {
        await using var cmd = Db.CreateCommand(sql);
        foreach (var arg in args) cmd.Parameters.Add(new() { Value = arg });
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var worker in started.ToArray()) await StopWorker(worker);
        await Services.DisposeAsync();
    }
}

/// <summary>Executions per key, so tests can tell how often an activity really ran.</summary>
static class Executions
{
    static readonly ConcurrentDictionary<string, int> Counts = new();

    public static int Hit(string key) => Counts.AddOrUpdate(key, 1, (_, n) => n + 1);
    public static int Of(string key) => Counts.GetValueOrDefault(key);
}
