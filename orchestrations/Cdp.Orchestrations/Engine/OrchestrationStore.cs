using Npgsql;

namespace Cdp.Orchestrations.Engine;

/// <summary>
/// The SQL every state change goes through. Lock order is always instance row(s) first, then work rows, so the
/// worker, the client and concurrent episodes never deadlock on each other.
/// </summary>
static class OrchestrationStore
{
    public static bool IsFinished(string status) => status is "Completed" or "Failed" or "Terminated";

    /// <summary><see cref="IsFinished"/> as an SQL list.</summary>
    public const string FinishedStatuses = "'Completed', 'Failed', 'Terminated'";

    /// <summary>Status of the instance, locked for the rest of the transaction; null when it does not exist.</summary>
    public static async Task<string?> LockInstance(NpgsqlConnection conn, string instanceId)
    {
        await using var cmd = new NpgsqlCommand("select status from orchestration_instance where instance_id = $1 for update", conn);
        cmd.Parameters.Add(new() { Value = instanceId });
        return (string?)await cmd.ExecuteScalarAsync();
    }

    /// <summary>
    /// Creates the instance with its Started event and first orchestrator work, unless it exists unfinished (then
    /// false); a finished one is replaced. A sub-orchestration passes its parent so its end is reported there.
    /// </summary>
    public static async Task<bool> StartInstance(
        NpgsqlConnection conn, string instanceId, string name, string? inputJson, string? parentId = null, int? parentSeq = null)
    {
        var status = await LockInstance(conn, instanceId);
        if (status is not null && !IsFinished(status))
        {
            if (parentId is not null) // a parent adopting a running child still wants to hear how it ends
                await Exec(conn, """
                    update orchestration_instance set parent_instance_id = $2, parent_seq = $3
                     where instance_id = $1 and parent_instance_id is null
                    """, instanceId, parentId, parentSeq);
            return false;
        }
        if (status is not null) await Exec(conn, "delete from orchestration_instance where instance_id = $1", instanceId);
        await using (var cmd = new NpgsqlCommand("""
            insert into orchestration_instance (instance_id, name, status, input, parent_instance_id, parent_seq)
            values ($1, $2, 'Pending', $3::jsonb, $4, $5)
            on conflict (instance_id) do nothing
            """, conn))
        {
            cmd.Parameters.Add(new() { Value = instanceId });
            cmd.Parameters.Add(new() { Value = name });
            cmd.Parameters.Add(new() { Value = (object?)inputJson ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            cmd.Parameters.Add(new() { Value = (object?)parentId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            cmd.Parameters.Add(new() { Value = (object?)parentSeq ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer });
            // A concurrent start of the same new id waited on our row and found it: theirs is the run.
            if (await cmd.ExecuteNonQueryAsync() == 0) return false;
        }
        await Append(conn, instanceId, EventKind.Started, name: name, payload: inputJson);
        await Poke(conn, instanceId);
        return true;
    }

    /// <summary>
    /// <see cref="StartInstance"/> for an id not in use, in one statement: the instance, its Started event and its first
    /// orchestrator work. False (and nothing written) when the id exists.
    /// </summary>
    public static async Task<bool> StartNewInstance(NpgsqlConnection conn, string instanceId, string name, string? inputJson)
    {
        await using var cmd = new NpgsqlCommand("""
            with i as (
                insert into orchestration_instance (instance_id, name, status, input) values ($1, $2, 'Pending', $3::jsonb)
                on conflict (instance_id) do nothing
                returning instance_id),
            h as (insert into orchestration_history (instance_id, kind, name, payload) select instance_id, 'Started', $2, $3::jsonb from i),
            w as (
                insert into orchestration_work (instance_id, kind) select instance_id, 'orchestrator' from i
                on conflict (instance_id) where kind = 'orchestrator'
                do update set generation = orchestration_work.generation + 1, visible_at = least(orchestration_work.visible_at, now()))
            select count(*) from i
            """, conn);
        cmd.Parameters.Add(new() { Value = instanceId });
        cmd.Parameters.Add(new() { Value = name });
        cmd.Parameters.Add(Text(inputJson));
        return (long)(await cmd.ExecuteScalarAsync())! > 0;
    }

    public static async Task Append(
        NpgsqlConnection conn, string instanceId, string kind, int? seq = null, string? name = null, string? payload = null,
        FailureDetails? failure = null, DateTime? fireAt = null, string? childId = null)
    {
        await using var batch = new NpgsqlBatch(conn) { BatchCommands = { AppendCommand(instanceId, kind, seq, name, payload, failure, fireAt, childId) } };
        await batch.ExecuteNonQueryAsync();
    }

    /// <summary>The insert <see cref="Append"/> runs, for a batch of several.</summary>
    public static NpgsqlBatchCommand AppendCommand(
        string instanceId, string kind, int? seq = null, string? name = null, string? payload = null,
        FailureDetails? failure = null, DateTime? fireAt = null, string? childId = null)
    {
        var cmd = new NpgsqlBatchCommand("""
            insert into orchestration_history (instance_id, kind, seq, name, child_id, payload, error_type, error_message, fire_at)
            values ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9)
            """);
        cmd.Parameters.Add(new() { Value = instanceId });
        cmd.Parameters.Add(new() { Value = kind });
        cmd.Parameters.Add(new() { Value = (object?)seq ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer });
        cmd.Parameters.Add(Text(name));
        cmd.Parameters.Add(Text(childId));
        cmd.Parameters.Add(Text(payload));
        cmd.Parameters.Add(Text(failure?.ErrorType));
        cmd.Parameters.Add(Text(failure?.ErrorMessage));
        cmd.Parameters.Add(new() { Value = (object?)fireAt ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        return cmd;
    }

    /// <summary>Asks for an episode. generation counts pokes, so one landing while an episode runs is not lost.</summary>
    public static async Task Poke(NpgsqlConnection conn, string instanceId)
    {
        await using var batch = new NpgsqlBatch(conn) { BatchCommands = { PokeCommand(instanceId) } };
        await batch.ExecuteNonQueryAsync();
    }

    /// <summary>The statement <see cref="Poke"/> runs, for a batch of several.</summary>
    public static NpgsqlBatchCommand PokeCommand(string instanceId) => new("""
        insert into orchestration_work (instance_id, kind) values ($1, 'orchestrator')
        on conflict (instance_id) where kind = 'orchestrator'
        do update set generation = orchestration_work.generation + 1, visible_at = least(orchestration_work.visible_at, now())
        """) { Parameters = { new() { Value = instanceId } } };

    /// <summary><see cref="PokeCommand"/> for several instances in one statement (each id once).</summary>
    public static NpgsqlBatchCommand PokeManyCommand(string[] instanceIds) => new("""
        insert into orchestration_work (instance_id, kind) select unnest($1::text[]), 'orchestrator'
        on conflict (instance_id) where kind = 'orchestrator'
        do update set generation = orchestration_work.generation + 1, visible_at = least(orchestration_work.visible_at, now())
        """) { Parameters = { new() { Value = instanceIds } } };

    /// <summary>
    /// Ends an instance: status, output or error, pending work dropped (an activity still running finds its row gone
    /// and its result is discarded), and its parent told. True when the parent was poked.
    /// </summary>
    public static async Task<bool> Finish(
        NpgsqlConnection conn, string instanceId, string status, string? output, FailureDetails? failure, string? customStatus, bool setCustomStatus)
    {
        string? parentId = null;
        int? parentSeq = null;
        string name = "";
        await using (var cmd = new NpgsqlCommand("""
            update orchestration_instance
               set status = $2, output = $3::jsonb, error_type = $4, error_message = $5,
                   custom_status = case when $7 then $6::jsonb else custom_status end,
                   updated_at = now(), completed_at = now()
             where instance_id = $1
            returning parent_instance_id, parent_seq, name
            """, conn))
        {
            cmd.Parameters.Add(new() { Value = instanceId });
            cmd.Parameters.Add(new() { Value = status });
            cmd.Parameters.Add(Text(output));
            cmd.Parameters.Add(Text(failure?.ErrorType));
            cmd.Parameters.Add(Text(failure?.ErrorMessage));
            cmd.Parameters.Add(Text(customStatus));
            cmd.Parameters.Add(new() { Value = setCustomStatus });
            await using var reader = await cmd.ExecuteReaderAsync();
            if (await reader.ReadAsync())
            {
                parentId = reader.IsDBNull(0) ? null : reader.GetString(0);
                parentSeq = reader.IsDBNull(1) ? null : reader.GetInt32(1);
                name = reader.GetString(2);
            }
        }
        await Exec(conn, "delete from orchestration_work where instance_id = $1 and kind <> 'orchestrator'", instanceId);
        if (parentId is null || parentSeq is null) return false;
        return await TellParent(conn, parentId, parentSeq.Value, instanceId, name, status, output, failure);
    }

    /// <summary>
    /// <see cref="Finish"/> for the instances ended by the episodes of one transaction, in one statement (no custom
    /// status left untouched: an episode always sets it). It returns each ended instance with its parent (null when
    /// it has none), for <see cref="TellParent"/> after the batch.
    /// </summary>
    public static NpgsqlBatchCommand FinishManyCommand(IReadOnlyList<Ending> endings) => new("""
        with e as (
            select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
                       as e(instance_id, status, output, error_type, error_message, custom_status)),
        dropped as (delete from orchestration_work w using e where w.instance_id = e.instance_id and w.kind <> 'orchestrator')
        update orchestration_instance i
           set status = e.status, output = e.output::jsonb, error_type = e.error_type, error_message = e.error_message,
               custom_status = e.custom_status::jsonb, updated_at = now(), completed_at = now()
          from e where i.instance_id = e.instance_id
        returning i.instance_id as ended_instance_id, i.parent_instance_id, i.parent_seq, i.name
        """)
    {
        Parameters =
        {
            new() { Value = endings.Select(e => e.InstanceId).ToArray() },
            new() { Value = endings.Select(e => e.Status).ToArray() },
            new() { Value = endings.Select(e => e.Output).ToArray() },
            new() { Value = endings.Select(e => e.Failure?.ErrorType).ToArray() },
            new() { Value = endings.Select(e => e.Failure?.ErrorMessage).ToArray() },
            new() { Value = endings.Select(e => e.CustomStatus).ToArray() },
        },
    };

    /// <summary>How an episode ended its instance, for <see cref="FinishManyCommand"/>.</summary>
    public sealed record Ending(string InstanceId, string Status, string? Output, FailureDetails? Failure, string? CustomStatus);

    /// <summary>Appends a child's end to its parent's history and pokes the parent, unless the parent is gone or finished.</summary>
    public static async Task<bool> TellParent(
        NpgsqlConnection conn, string parentId, int parentSeq, string childId, string childName, string status, string? output, FailureDetails? failure)
    {
        var parentStatus = await LockInstance(conn, parentId);
        if (parentStatus is null || IsFinished(parentStatus)) return false;
        if (status == "Completed")
            await Append(conn, parentId, EventKind.SubOrchestrationCompleted, parentSeq, childName, output, childId: childId);
        else
            await Append(conn, parentId, EventKind.SubOrchestrationFailed, parentSeq, childName,
                failure: failure ?? new FailureDetails("Terminated", $"Sub-orchestration '{childId}' was {status.ToLowerInvariant()}."),
                childId: childId);
        await Poke(conn, parentId);
        return true;
    }

    public const string HistorySql = """
        select event_id, kind, seq, name, child_id, payload::text, error_type, error_message, fire_at, created_at
          from orchestration_history where instance_id = $1 order by event_id
        """;

    /// <summary><see cref="HistorySql"/> for several instances, with the instance id after the event's columns.</summary>
    public const string HistoryOfManySql = """
        select event_id, kind, seq, name, child_id, payload::text, error_type, error_message, fire_at, created_at, instance_id
          from orchestration_history where instance_id = any($1) order by instance_id, event_id
        """;

    /// <summary>How many columns an event has in <see cref="HistorySql"/>: the index of the instance id in <see cref="HistoryOfManySql"/>.</summary>
    public const int HistoryEventColumns = 10;

    /// <summary>Reads the rows of <see cref="HistorySql"/>.</summary>
    public static async Task<List<HistoryEvent>> ReadHistory(NpgsqlDataReader reader)
    {
        var events = new List<HistoryEvent>();
        while (await reader.ReadAsync()) events.Add(HistoryEventAt(reader));
        return events;
    }

    /// <summary>The event on the reader's current row of <see cref="HistorySql"/> or <see cref="HistoryOfManySql"/>.</summary>
    public static HistoryEvent HistoryEventAt(NpgsqlDataReader reader) => new(
        reader.GetInt64(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetInt32(2),
        Str(reader, 3), Str(reader, 4), Str(reader, 5), Str(reader, 6), Str(reader, 7),
        reader.IsDBNull(8) ? null : reader.GetDateTime(8), reader.GetDateTime(9));

    public static async Task<int> Exec(NpgsqlConnection conn, string sql, params object?[] args)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        foreach (var arg in args)
            cmd.Parameters.Add(arg is null ? new NpgsqlParameter { Value = DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text } : new NpgsqlParameter { Value = arg });
        return await cmd.ExecuteNonQueryAsync();
    }

    public static NpgsqlParameter Text(string? value) =>
        new() { Value = (object?)value ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text };

    static string? Str(NpgsqlDataReader reader, int i) => reader.IsDBNull(i) ? null : reader.GetString(i);
}
