using System.Diagnostics;
using System.Text.Json;
using Cdp.Shared;
using Cdp.Shared.Api;
using Cdp.Shared.Messaging;
using Npgsql;
using static Cdp.Orchestrations.Engine.OrchestrationStore;

namespace Cdp.Orchestrations.Engine;

/// <summary>
/// <see cref="IOrchestrationClient"/> over the local engine's tables. Work it creates wakes the workers: this
/// process's through <paramref name="signal"/>, every process's through a Postgres NOTIFY sent after the commit.
/// </summary>
public sealed class LocalOrchestrationClient(NpgsqlDataSource db, OrchestrationSignal? signal = null) : IOrchestrationClient
{
    readonly PostgresNotifier notifier = new(db, OrchestrationSignal.Channel);

    public async Task<string> StartAsync(string name, object? input, string? instanceId = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        instanceId ??= Guid.NewGuid().ToString("N");
        var inputJson = input is null ? null : JsonSerializer.Serialize(input, input.GetType(), CdpJson.Options);
        await using var conn = await db.OpenConnectionAsync();
        // A new id (the usual case) in one statement, which commits by itself; an existing one the careful way.
        if (!await StartNewInstance(conn, instanceId, name, inputJson))
        {
            await using var tx = await conn.BeginTransactionAsync();
            await StartInstance(conn, instanceId, name, inputJson);
            await tx.CommitAsync();
        }
        Wake();
        Cdp.Shared.Telemetry.CdpTelemetry.Orchestrations.Add(1, new("name", name), new("status", "started"));
        return instanceId;
    }

    public async Task<OrchestrationStatus?> GetStatusAsync(string instanceId)
    {
        await using var cmd = db.CreateCommand("""
            select name, instance_id, status, input::text, custom_status::text, output::text, created_at, updated_at, error_type, error_message
              from orchestration_instance where instance_id = $1
            """);
        cmd.Parameters.Add(new() { Value = instanceId });
        await using var reader = await cmd.ExecuteReaderAsync();
        if (!await reader.ReadAsync()) return null;
        return new OrchestrationStatus(
            reader.GetString(0), reader.GetString(1), Enum.Parse<OrchestrationRuntimeStatus>(reader.GetString(2)),
            Json(reader, 3), Json(reader, 4), Json(reader, 5),
            reader.GetFieldValue<DateTimeOffset>(6), reader.GetFieldValue<DateTimeOffset>(7),
            reader.IsDBNull(8) ? null : new FailureDetails(reader.GetString(8), reader.IsDBNull(9) ? "" : reader.GetString(9)));
    }

    public async Task<Page<OrchestrationSummary>> ListAsync(OrchestrationListQuery query, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(query);
        var after = Keyset.Decode(query.Cursor);
        await using var cmd = db.CreateCommand("""
            select name, instance_id, status, created_at, updated_at from orchestration_instance
             where ($1::text is null or status = $1) and ($2::text is null or name = $2)
               and ($3::timestamptz is null or created_at >= $3) and ($4::timestamptz is null or created_at < $4)
               and ($5::timestamptz is null or (created_at, instance_id) < ($5, $6))
             order by created_at desc, instance_id desc
             limit $7
            """);
        cmd.Parameters.Add(new() { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text, Value = (object?)query.Status?.ToString() ?? DBNull.Value });
        cmd.Parameters.Add(new() { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text, Value = (object?)query.Name ?? DBNull.Value });
        cmd.Parameters.Add(new() { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz, Value = (object?)query.CreatedFrom?.ToUniversalTime() ?? DBNull.Value });
        cmd.Parameters.Add(new() { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz, Value = (object?)query.CreatedTo?.ToUniversalTime() ?? DBNull.Value });
        cmd.Parameters.Add(new() { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz, Value = (object?)after?.At ?? DBNull.Value });
        cmd.Parameters.Add(new() { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text, Value = (object?)after?.Id ?? DBNull.Value });
        cmd.Parameters.Add(new() { Value = query.Limit + 1 });
        var rows = new List<OrchestrationSummary>();
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
                rows.Add(new OrchestrationSummary(reader.GetString(0), reader.GetString(1), reader.GetString(2),
                    reader.GetFieldValue<DateTimeOffset>(3), reader.GetFieldValue<DateTimeOffset>(4)));
        }
        return Page<OrchestrationSummary>.Of(rows, query.Limit, r => new Keyset(r.CreatedTime, r.InstanceId));
    }

    public async Task RaiseEventAsync(string instanceId, string eventName, object? data)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(eventName);
        var payload = JsonSerializer.Serialize(data, data?.GetType() ?? typeof(object), CdpJson.Options);
        await using var conn = await db.OpenConnectionAsync();
        await using var tx = await conn.BeginTransactionAsync();
        var status = await LockInstance(conn, instanceId)
            ?? throw new InvalidOperationException($"No orchestration instance '{instanceId}'.");
        if (IsFinished(status)) return; // like Durable: an event for a finished instance is dropped
        await Append(conn, instanceId, EventKind.EventRaised, name: eventName, payload: payload);
        await Poke(conn, instanceId);
        await tx.CommitAsync();
        Wake();
    }

    void Wake()
    {
        signal?.Work.Pulse();
        notifier.Request();
    }

    public async Task TerminateAsync(string instanceId, string? reason)
    {
        await using var conn = await db.OpenConnectionAsync();
        await using var tx = await conn.BeginTransactionAsync();
        var status = await LockInstance(conn, instanceId);
        if (status is null || IsFinished(status)) return;
        var payload = JsonSerializer.Serialize(reason, CdpJson.Options);
        await Append(conn, instanceId, EventKind.Terminated, payload: payload);
        await Finish(conn, instanceId, "Terminated", payload, new FailureDetails("Terminated", reason ?? "Terminated."), null, setCustomStatus: false);
        // An episode in flight finds the instance finished at commit and discards itself.
        await Exec(conn, "delete from orchestration_work where instance_id = $1", instanceId);
        await tx.CommitAsync();
    }

    public async Task<int> PurgeAsync(DateTimeOffset completedBefore)
    {
        await using var cmd = db.CreateCommand("""
            delete from orchestration_instance
             where status in ('Completed', 'Failed', 'Terminated') and completed_at < $1
            """);
        cmd.Parameters.Add(new() { Value = completedBefore.UtcDateTime });
        return await cmd.ExecuteNonQueryAsync();
    }

    public async Task<OrchestrationStatus> WaitForCompletionAsync(string instanceId, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        var delay = TimeSpan.FromMilliseconds(20);
        while (true)
        {
            var status = await GetStatusAsync(instanceId)
                ?? throw new InvalidOperationException($"No orchestration instance '{instanceId}'.");
            if (status.IsFinished || clock.Elapsed >= timeout) return status;
            var left = timeout - clock.Elapsed;
            await Task.Delay(delay < left ? delay : left);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 1.5, 250));
        }
    }

    static JsonElement? Json(NpgsqlDataReader reader, int i)
    {
        if (reader.IsDBNull(i)) return null;
        using var doc = JsonDocument.Parse(reader.GetString(i));
        return doc.RootElement.Clone();
    }
}
