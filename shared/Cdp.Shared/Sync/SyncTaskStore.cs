using System.Data.Common;
using Dapper;
using Npgsql;
using static Cdp.Shared.Storage.DbTime;

namespace Cdp.Shared.Sync;

/// <summary>A sync task as GET /api/sync-tasks/{id} shows it.</summary>
public sealed record SyncTaskView(
    Guid Id,
    string Target,
    string EntityType,
    Guid EntityId,
    long ChangeSeq,
    string Status,
    int Attempts,
    string? LastError,
    string? Note,
    int Generation,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? NextAttemptAt,
    DateTimeOffset? CompletedAt,
    string? CreatedBy = null,
    string? ActingUserId = null);

/// <summary>
/// The newest change of one entity for one target: what a push sends, whichever task pushes it, acting as the WeCom
/// userid that change was saved by (null: the contact's first follower).
/// </summary>
public sealed record LatestChange(Guid SyncTaskId, long ChangeSeq, string PayloadJson, string? ActingUserId = null);

/// <summary>Every statement about sync_task, next to the code that runs it.</summary>
public sealed class SyncTaskStore(NpgsqlDataSource db)
{
    const string Columns = """
        sync_task_id as Id, target as Target, entity_type as EntityType, entity_id as EntityId, change_seq as ChangeSeq,
        status as Status, attempts as Attempts, last_error as LastError, note as Note, generation as Generation,
        created_at as CreatedAt, updated_at as UpdatedAt, next_attempt_at as NextAttemptAt, completed_at as CompletedAt,
        created_by as CreatedBy, acting_user_id as ActingUserId
        """;

    /// <summary>
    /// Records a change to push, in the caller's transaction (the same one that saved the data). The change number
    /// comes from the sequence after the caller locked the entity, so a newer save always has the higher number.
    /// A task with <paramref name="finishedNote"/> is stored as already succeeded (nothing to push).
    /// <paramref name="createdBy"/> is the audit actor; <paramref name="actingUserId"/> the WeCom userid the push acts as.
    /// </summary>
    public static async Task<Guid> InsertAsync(
        NpgsqlConnection conn, DbTransaction tx, string target, string entityType, Guid entityId, string payloadJson,
        string? finishedNote, string createdBy, string? actingUserId, CancellationToken ct)
    {
        var id = Guid.CreateVersion7();
        await conn.ExecuteAsync(new CommandDefinition("""
            insert into sync_task (sync_task_id, target, entity_type, entity_id, change_seq, payload, status, note, completed_at,
                                   created_by, acting_user_id)
            values (@id, @target, @entityType, @entityId, nextval('sync_task_change_seq'), @payloadJson::jsonb,
                    case when @finishedNote::text is null then 'pending' else 'succeeded' end, @finishedNote,
                    case when @finishedNote::text is null then null else now() end, @createdBy, @actingUserId)
            """, new { id, target, entityType, entityId, payloadJson, finishedNote, createdBy, actingUserId }, tx, cancellationToken: ct));
        return id;
    }

    public async Task<SyncTaskView?> GetAsync(Guid id, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var row = await conn.QuerySingleOrDefaultAsync<Row>(new CommandDefinition(
            $"select {Columns} from sync_task where sync_task_id = @id", new { id }, cancellationToken: ct));
        return row?.ToView();
    }

    /// <summary>Newest first; every status when <paramref name="status"/> is null.</summary>
    public async Task<IReadOnlyList<SyncTaskView>> ListAsync(string? status, int limit, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var rows = await conn.QueryAsync<Row>(new CommandDefinition($"""
            select {Columns} from sync_task
             where @status::text is null or status = @status
             order by created_at desc, sync_task_id desc limit @limit
            """, new { status, limit = Math.Clamp(limit, 1, 1000) }, cancellationToken: ct));
        return [.. rows.Select(r => r.ToView())];
    }

    /// <summary>One record's tasks, newest first: the sidebar shows the state of the last change it made.</summary>
    public async Task<IReadOnlyList<SyncTaskView>> ListForEntityAsync(string entityType, Guid entityId, int limit, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var rows = await conn.QueryAsync<Row>(new CommandDefinition($"""
            select {Columns} from sync_task
             where entity_type = @entityType and entity_id = @entityId
             order by created_at desc, sync_task_id desc limit @limit
            """, new { entityType, entityId, limit = Math.Clamp(limit, 1, 100) }, cancellationToken: ct));
        return [.. rows.Select(r => r.ToView())];
    }

    /// <summary>Tasks still waiting for their first push since before <paramref name="before"/>, oldest first.</summary>
    public async Task<IReadOnlyList<Guid>> PendingSinceAsync(DateTimeOffset before, int limit, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var ids = await conn.QueryAsync<Guid>(new CommandDefinition("""
            select sync_task_id from sync_task where status = 'pending' and updated_at < @before
             order by updated_at, sync_task_id limit @limit
            """, new { before, limit }, cancellationToken: ct));
        return [.. ids];
    }

    /// <summary>
    /// Counts an attempt on an unfinished task and returns it; a finished task (a duplicate delivery of the activity)
    /// comes back unchanged so the caller can stop.
    /// </summary>
    public async Task<SyncTaskView?> BeginAttemptAsync(Guid id, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var row = await conn.QuerySingleOrDefaultAsync<Row>(new CommandDefinition($"""
            update sync_task set attempts = attempts + 1, updated_at = now(), next_attempt_at = null
             where sync_task_id = @id and status in ('pending', 'retrying')
            returning {Columns}
            """, new { id }, cancellationToken: ct))
            ?? await conn.QuerySingleOrDefaultAsync<Row>(new CommandDefinition(
                $"select {Columns} from sync_task where sync_task_id = @id", new { id }, cancellationToken: ct));
        return row?.ToView();
    }

    /// <summary>The newest change of the entity for the target, read under the caller's push lock.</summary>
    public static Task<LatestChange> LatestAsync(NpgsqlConnection conn, DbTransaction tx, string target, Guid entityId, CancellationToken ct) =>
        conn.QuerySingleAsync<LatestChange>(new CommandDefinition("""
            select sync_task_id as SyncTaskId, change_seq as ChangeSeq, payload::text as PayloadJson, acting_user_id as ActingUserId
              from sync_task where target = @target and entity_id = @entityId
             order by change_seq desc limit 1
            """, new { target, entityId }, tx, cancellationToken: ct));

    /// <summary>A newer change of the same entity+target that already reached the target, if any.</summary>
    public static Task<Guid?> NewerSucceededAsync(NpgsqlConnection conn, DbTransaction tx, SyncTaskView task, CancellationToken ct) =>
        conn.QueryFirstOrDefaultAsync<Guid?>(new CommandDefinition("""
            select sync_task_id from sync_task
             where target = @Target and entity_id = @EntityId and change_seq > @ChangeSeq and status = 'succeeded'
             order by change_seq desc limit 1
            """, new { task.Target, task.EntityId, task.ChangeSeq }, tx, cancellationToken: ct));

    /// <summary>
    /// Serialises pushes of one entity to one target across hosts (transaction-scoped advisory lock), so the last
    /// push to finish is the one that read the newest state.
    /// </summary>
    public static Task LockEntityAsync(NpgsqlConnection conn, DbTransaction tx, string target, Guid entityId, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            "select pg_advisory_xact_lock(hashtextextended(@key, 7071))",
            new { key = $"sync:{target}:{entityId}" }, tx, cancellationToken: ct));

    public static Task SucceedAsync(NpgsqlConnection conn, DbTransaction? tx, Guid id, string? note, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition("""
            update sync_task set status = 'succeeded', note = @note, completed_at = now(), updated_at = now(),
                   next_attempt_at = null
             where sync_task_id = @id and status <> 'succeeded'
            """, new { id, note }, tx, cancellationToken: ct));

    /// <summary>
    /// After a failed attempt: <c>retrying</c> with the time of the next attempt, or, after the last attempt, the
    /// error only (the orchestrator then marks the task failed).
    /// </summary>
    public async Task RecordFailureAsync(Guid id, string error, TimeSpan? nextAttemptIn, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await conn.ExecuteAsync(new CommandDefinition("""
            update sync_task
               set last_error = @error, updated_at = now(),
                   status = case when @retry then 'retrying' else status end,
                   next_attempt_at = case when @retry then now() + make_interval(secs => @seconds) else null end
             where sync_task_id = @id and status in ('pending', 'retrying')
            """, new { id, error, retry = nextAttemptIn is not null, seconds = nextAttemptIn?.TotalSeconds ?? 0 }, cancellationToken: ct));
    }

    public async Task MarkFailedAsync(Guid id, string error, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await conn.ExecuteAsync(new CommandDefinition("""
            update sync_task set status = 'failed', last_error = coalesce(last_error, @error), updated_at = now(),
                   next_attempt_at = null
             where sync_task_id = @id and status in ('pending', 'retrying')
            """, new { id, error }, cancellationToken: ct));
    }

    /// <summary>
    /// A person re-drives a failed task, in the caller's transaction (the one that audits it): pending again with a
    /// fresh attempt count and a new generation. It still acts as whoever saved the change.
    /// </summary>
    public static async Task<SyncTaskView?> ResetFailedAsync(NpgsqlConnection conn, DbTransaction tx, Guid id, CancellationToken ct)
    {
        var row = await conn.QuerySingleOrDefaultAsync<Row>(new CommandDefinition($"""
            update sync_task set status = 'pending', attempts = 0, generation = generation + 1, updated_at = now(),
                   next_attempt_at = null, completed_at = null, note = 'retried by request after: ' || coalesce(last_error, 'failure')
             where sync_task_id = @id and status = 'failed'
            returning {Columns}
            """, new { id }, tx, cancellationToken: ct));
        return row?.ToView();
    }

    sealed class Row
    {
        public Guid Id { get; set; }
        public string Target { get; set; } = "";
        public string EntityType { get; set; } = "";
        public Guid EntityId { get; set; }
        public long ChangeSeq { get; set; }
        public string Status { get; set; } = "";
        public int Attempts { get; set; }
        public string? LastError { get; set; }
        public string? Note { get; set; }
        public int Generation { get; set; }
        public DateTime CreatedAt { get; set; }
        public DateTime UpdatedAt { get; set; }
        public DateTime? NextAttemptAt { get; set; }
        public DateTime? CompletedAt { get; set; }
        public string? CreatedBy { get; set; }
        public string? ActingUserId { get; set; }

        public SyncTaskView ToView() => new(Id, Target, EntityType, EntityId, ChangeSeq, Status, Attempts, LastError, Note,
            Generation, Utc(CreatedAt), Utc(UpdatedAt), Utc(NextAttemptAt), Utc(CompletedAt), CreatedBy, ActingUserId);
    }
}
