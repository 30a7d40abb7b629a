using Cdp.Orchestrations;
using Cdp.Orchestrations.VirtualNumbers;
using Cdp.Shared.Channels.WeCom;
using Cdp.Shared.VirtualNumbers;
using Cdp.Tests.Support;
using Dapper;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cdp.Bench;

/// <summary>
/// ./cdp bench calls [--bindings N] [--keep]: N AXB bindings through the binding orchestration on the local durable
/// engine (row insert, start, the attempt activity, BIND), beside a same-run baseline: N direct BindAxb calls to the
/// same loopback provider stand-in through the same adapter.
/// </summary>
static class CallsBench
{
    const int Workers = 16;

    public static async Task RunAsync(string[] args)
    {
        var count = Args.Int(args, "--bindings", 500);
        await using var scratch = await ScratchDatabase.CreateAsync(keep: args.Contains("--keep"));
        await using var provider = await PrivacyNumberStandIn.StartAsync();
        Console.WriteLine($"cdp bench calls: {count:N0} bindings, {Environment.ProcessorCount} cores, database {scratch.Name}");

        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["VirtualNumbers:ProviderBaseUrl"] = provider.DyplsUrl,
            ["VirtualNumbers:AccessKeyId"] = provider.AccessKeyId,
            ["VirtualNumbers:AccessKeySecret"] = provider.AccessKeySecret,
            ["VirtualNumbers:LegacyBaseUrl"] = provider.LegacyUrl,
            ["VirtualNumbers:GreyCities"] = "*",
            ["VirtualNumbers:DefaultPoolKey"] = "FC-bench",
            ["VirtualNumbers:BindingLifetime"] = "01:00:00",
        });
        builder.Services.AddSingleton(scratch.DataSource);
        builder.Services.AddOptions<WeComOptions>();
        builder.Services.AddLocalOrchestrations();
        builder.Services.AddVirtualNumbers();
        using var host = builder.Build();
        await host.StartAsync();

        var adapter = host.Services.GetRequiredService<VirtualNumberProviders>().ForCity("上海");
        var baseline = await Measure.ConcurrentlyAsync(count, Workers, async i =>
        {
            var answer = await adapter.BindAsync(new ProviderBind(BindingModes.Axb, "FC-bench", Mobile(i), Mobile(i + 1), "上海",
                DateTimeOffset.UtcNow.AddHours(1), $"direct-{i}", false), CancellationToken.None);
            if (!answer.Ok) throw new InvalidOperationException(answer.Code);
        });
        Report.Line("baseline: direct BindAxb call to the provider", baseline);

        var client = host.Services.GetRequiredService<IOrchestrationClient>();
        var schedule = BindingSchedule.Of(host.Services.GetRequiredService<IOptions<VirtualNumberOptions>>().Value);
        var ids = new Guid[count];
        var started = System.Diagnostics.Stopwatch.StartNew();
        var starts = await Measure.ConcurrentlyAsync(count, Workers, async i =>
        {
            await using var conn = await scratch.DataSource.OpenConnectionAsync();
            await using var tx = await conn.BeginTransactionAsync();
            var (binding, _) = await BindingStore.CreateAsync(conn, tx, new BindingStore.NewBinding(Guid.NewGuid(), $"bench-{i}", BindingModes.Axb, "上海",
                Mobile(i), Mobile(i + 1), null, null, DateTimeOffset.UtcNow.AddHours(1)));
            await tx.CommitAsync();
            ids[i] = binding.BindingId;
            await client.StartAsync(nameof(BindVirtualNumberOrchestrator), new BindVirtualNumberInput(binding.BindingId, binding.ExpiresAt.UtcDateTime, schedule),
                BindVirtualNumberOrchestrator.InstanceIdOf(binding.BindingId));
        });
        await Eventually.Until(async () =>
        {
            await using var conn = await scratch.DataSource.OpenConnectionAsync();
            return await conn.ExecuteScalarAsync<long>("select count(*) from virtual_binding where state <> 'OPERATION'") == count;
        }, TimeSpan.FromMinutes(30));
        var elapsed = started.Elapsed;
        List<double> latencies;
        long bound;
        await using (var conn = await scratch.DataSource.OpenConnectionAsync())
        {
            bound = await conn.ExecuteScalarAsync<long>("select count(*) from virtual_binding where state = 'BIND'");
            latencies = (await conn.QueryAsync<double>("select extract(epoch from bound_at - created_at) * 1000 from virtual_binding where bound_at is not null order by 1")).ToList();
        }
        await host.StopAsync();

        Report.Line("orchestrated binding: insert + start -> BIND", new Figures(count, elapsed, Report.Percentile(latencies, 0.5), Report.Percentile(latencies, 0.99)));
        Console.WriteLine($"  ({bound:N0} bound; start calls p50 {starts.P50Ms:N1} ms)");
        Console.WriteLine($"ratio orchestrated bindings/s / direct calls/s: {count / elapsed.TotalSeconds / baseline.PerSecond:P0}");
    }

    static string Mobile(int i) => "139" + (10_000_000 + i % 89_999_999).ToString("D8", System.Globalization.CultureInfo.InvariantCulture);
}
