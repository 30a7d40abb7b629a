using System.Diagnostics;
using Cdp.Shared.Events;
using Cdp.Shared.Messaging;
using Npgsql;
using Cdp.Shared.Storage;

namespace Cdp.Shared.Operations;

public sealed record DependencyHealth(string Name, bool Up, double LatencyMs, string? Detail = null);
public sealed record HealthReport(bool Healthy, IReadOnlyList<DependencyHealth> Dependencies);

/// <summary>GET /api/health: each dependency probed in parallel, each with its own short timeout.</summary>
public sealed class HealthCheck(NpgsqlDataSource db, RedisConnection redis, ClickHouseHttp clickHouse)
{
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    public async Task<HealthReport> CheckAsync(CancellationToken ct)
    {
        var results = await Task.WhenAll(
            Probe("postgres", async c => { await using var cmd = db.CreateCommand("select 1"); await cmd.ExecuteScalarAsync(c); return null; }, ct),
            Probe("redis", async _ => { await redis.Database.PingAsync(); return null; }, ct),
            Probe("clickhouse", async c => { await clickHouse.QueryLinesAsync("SELECT 1", c); return null; }, ct),
            Probe("topics", async c =>
            {
                var stats = await TopicAdmin.GetStatsAsync(db, c);
                return string.Join("; ", stats.Select(s => $"{s.Topic}: {s.Pending} pending, {s.Dead} dead"));
            }, ct),
            Probe("orchestrations", async c =>
            {
                await using var cmd = db.CreateCommand(
                    "select count(*) filter (where visible_at <= now()), count(*) from orchestration_work");
                await using var r = await cmd.ExecuteReaderAsync(c);
                await r.ReadAsync(c);
                return $"{r.GetInt64(0)} work items due, {r.GetInt64(1)} scheduled";
            }, ct));
        return new HealthReport(results.All(r => r.Up), results);
    }

    static async Task<DependencyHealth> Probe(string name, Func<CancellationToken, Task<string?>> probe, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(Timeout);
        var watch = Stopwatch.StartNew();
        try
        {
            var detail = await probe(timeout.Token).WaitAsync(timeout.Token);
            return new(name, true, watch.Elapsed.TotalMilliseconds, detail);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            return new(name, false, watch.Elapsed.TotalMilliseconds, e.GetType().Name);
        }
    }
}
