using System.Net;
using System.Net.Sockets;
using Azure.Core.Serialization;
using Cdp.Functions;
using Cdp.Functions.Durable;
using Cdp.Orchestrations;
using Cdp.Tests.Hosting;
using Cdp.Tests.Support;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cdp.Tests.AzureHost;

/// <summary>
/// The Azure host (functions/Cdp.Functions) on a <see cref="CdpBackend"/>, as an IClassFixture: its service provider
/// built the way Program.cs builds it (<c>AddAzureHost()</c> on an application builder, test settings on top; hosted
/// services not started, so nothing relays or consumes topic_message), and the real Microsoft.DurableTask worker
/// in-process (<see cref="DurableTaskTestHost"/>) running the host's own orchestrator and activity functions
/// (<see cref="AzureDurableFunctions"/>) with the host's serializer. The core reaches Durable through the host's
/// adapter over the test host's client (<see cref="UseDurableClient"/>), as a function does with its [DurableClient].
/// </summary>
public class AzureHostApp : CdpBackend
{
    readonly CancellationTokenSource stopping = new();
    AzureFunctionsHost host = null!;

    public IServiceProvider Services => host.Services;

    /// <summary>The host's HTTP functions, called with real ASP.NET Core requests.</summary>
    public AzureFunctionsHost Http => host;
    public DurableTaskTestHost Durable { get; private set; } = null!;
    public DurableTaskClient DurableClient => Durable.Client;
    public AzureDurableFunctions Functions { get; private set; } = null!;
    public LogCapture Logs { get; } = new();

    /// <summary>The core's orchestration client: the host's adapter over Durable (in a <see cref="UseDurableClient"/> scope).</summary>
    public IOrchestrationClient Orchestrations => Services.GetRequiredService<IOrchestrationClient>();

    /// <summary>Settings over <see cref="CdpBackend.Settings"/>; read after the backend has started.</summary>
    protected virtual IEnumerable<KeyValuePair<string, string?>> ExtraSettings => [];

    protected virtual void ConfigureServices(IServiceCollection services) { }

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        host = AzureFunctionsHost.Create(Settings.Concat(ExtraSettings), Logs, ConfigureServices);

        if (Orchestrations.GetType() is not { Name: "DurableOrchestrationClient" } adapter || adapter.Assembly != typeof(DurableClientScope).Assembly)
            throw new InvalidOperationException($"The core's IOrchestrationClient is {Orchestrations.GetType()}, not the Azure host's Durable adapter.");
        (Functions, Durable) = await StartDurableAsync(Services, stopping.Token);
    }

    public override async Task DisposeAsync()
    {
        await stopping.CancelAsync();
        if (Durable is not null) await Durable.DisposeAsync();
        if (host is not null) await host.DisposeAsync();
        stopping.Dispose();
        await base.DisposeAsync();
    }

    /// <summary>What a function with a [DurableClient] binding opens: the core's client works for this async flow.</summary>
    public IDisposable UseDurableClient() => Services.GetRequiredService<DurableClientScope>().Use(DurableClient);

    /// <summary>This host as the parity tests see it.</summary>
    public HostUnderTest AsHost() => new(this, Services, UseDurableClient);

    /// <summary>
    /// The Durable extension turns WorkerOptions.Serializer into the worker's and client's DataConverter through its
    /// ObjectConverterShim (internal; Worker.Extensions.DurableTask's DurableTaskExtensionStartup); the test host gets
    /// the same shim over the same serializer, so inputs, outputs and custom status have the shape they have on Azure.
    /// </summary>
    static DataConverter DataConverterOf(IServiceProvider services)
    {
        var serializer = services.GetRequiredService<IOptions<WorkerOptions>>().Value.Serializer
            ?? throw new InvalidOperationException("The Azure host sets no WorkerOptions.Serializer.");
        const string shim = "Microsoft.Azure.Functions.Worker.Extensions.DurableTask.ObjectConverterShim";
        var type = typeof(ActivityTriggerAttribute).Assembly.GetType(shim, throwOnError: true)!;
        return (DataConverter)Activator.CreateInstance(type, (ObjectSerializer)serializer)!;
    }

    /// <summary>The Durable worker running the functions of the Azure host whose services are <paramref name="services"/>.</summary>
    public static async Task<(AzureDurableFunctions Functions, DurableTaskTestHost Durable)> StartDurableAsync(IServiceProvider services, CancellationToken stopping)
    {
        var functions = new AzureDurableFunctions(services, stopping);
        return (functions, await StartDurableAsync(functions, DataConverterOf(services), services.GetRequiredService<ILoggerFactory>()));
    }

    /// <summary>
    /// DurableTaskTestHost picks a random port when given none, which another process may hold; it gets a port the
    /// system just handed out, and another if that one was taken in between.
    /// </summary>
    static async Task<DurableTaskTestHost> StartDurableAsync(AzureDurableFunctions functions, DataConverter converter, ILoggerFactory logs)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await DurableTaskTestHost.StartAsync(functions.AddTo, new DurableTaskTestHostOptions
                {
                    Port = FreePort(),
                    LoggerFactory = logs,
                    // The worker and the client both take a registered DataConverter.
                    ConfigureServices = services => services.AddSingleton(converter),
                });
            }
            catch (IOException) when (attempt < 5)
            {
            }
        }
    }

    static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}

/// <summary>
/// A host as parity tests drive it, the Azure host or the local one: its services, its backend (database, WeCom
/// stand-in) and the Durable client scope its calls need (none locally).
/// </summary>
public sealed record HostUnderTest(CdpBackend Backend, IServiceProvider Services, Func<IDisposable?> ClientScope)
{
    public static HostUnderTest Local(CdpApp app) => new(app, app.Services, () => null);

    public T Get<T>() where T : notnull => Services.GetRequiredService<T>();

    public IOrchestrationClient Orchestrations => Get<IOrchestrationClient>();
}
