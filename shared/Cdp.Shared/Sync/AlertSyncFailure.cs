using Cdp.Shared.Channels.WeCom;
using Cdp.Shared.Operations;
using Dapper;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Cdp.Shared.Sync;

/// <summary>What became of a failed run's alert.</summary>
public static class SyncAlertStatus
{
    public const string Sent = "sent";
    public const string Suppressed = "suppressed";
    public const string Logged = "logged";
    public const string Unsent = "unsent";
}

/// <summary>
/// Tells ops that a sync task gave up. At most <see cref="SyncOptions.AlertsPerMinute"/> robot messages per rolling
/// minute across all hosts (counted in sync_alert under an advisory lock); an alert over the limit is stored as
/// suppressed and logged, and the next alert that goes out says how many were suppressed. One alert per task run
/// (task id + generation), so a redelivered activity does not post twice.
/// </summary>
public sealed partial class AlertSyncFailure(
    NpgsqlDataSource db, SyncTaskStore store, AlertRobot client, IOptions<SyncOptions> options,
    IOptions<WeComOptions> wecom, ILogger<AlertSyncFailure> logger)
{
    public async Task<string> RunAsync(Guid taskId, CancellationToken ct)
    {
        var task = await store.GetAsync(taskId, ct) ?? throw new InvalidOperationException($"No sync task {taskId}.");
        var url = wecom.Value.AlertWebhookUrl;
        int suppressed;
        await using (var conn = await db.OpenConnectionAsync(ct))
        await using (var tx = await conn.BeginTransactionAsync(ct))
        {
            await conn.ExecuteAsync(new CommandDefinition("select pg_advisory_xact_lock(hashtextextended('sync-alert', 7071))", transaction: tx, cancellationToken: ct));
            var existing = await conn.QuerySingleOrDefaultAsync<string?>(new CommandDefinition(
                "select status from sync_alert where sync_task_id = @Id and generation = @Generation", new { task.Id, task.Generation }, tx, cancellationToken: ct));
            if (existing is SyncAlertStatus.Sent or SyncAlertStatus.Suppressed or SyncAlertStatus.Logged) return existing;

            if (string.IsNullOrEmpty(url))
            {
                await UpsertAsync(conn, tx, task, SyncAlertStatus.Logged, ct);
                await tx.CommitAsync(ct);
                LogNoWebhook(logger, task.Id, task.Target, task.Attempts, SyncRules.Redact(task.LastError));
                return SyncAlertStatus.Logged;
            }

            var recent = await conn.ExecuteScalarAsync<long>(new CommandDefinition(
                "select count(*) from sync_alert where status = 'sent' and sent_at > now() - interval '1 minute'", transaction: tx, cancellationToken: ct));
            if (recent >= options.Value.AlertsPerMinute)
            {
                await UpsertAsync(conn, tx, task, SyncAlertStatus.Suppressed, ct);
                await tx.CommitAsync(ct);
                LogSuppressed(logger, task.Id, task.Target, options.Value.AlertsPerMinute);
                return SyncAlertStatus.Suppressed;
            }

            suppressed = await conn.ExecuteAsync(new CommandDefinition(
                "update sync_alert set summarised = true where status = 'suppressed' and not summarised", transaction: tx, cancellationToken: ct));
            await UpsertAsync(conn, tx, task, SyncAlertStatus.Sent, ct);
            await tx.CommitAsync(ct);
        }

        try
        {
            await client.PostTextAsync(url, SyncRules.AlertText(task, suppressed), ct);
            return SyncAlertStatus.Sent;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Frees the slot and lets the activity's retry post again.
            await using var conn = await db.OpenConnectionAsync(CancellationToken.None);
            await UpsertAsync(conn, null, task, SyncAlertStatus.Unsent, CancellationToken.None);
            throw;
        }
    }

    static Task UpsertAsync(NpgsqlConnection conn, NpgsqlTransaction? tx, SyncTaskView task, string status, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition("""
            insert into sync_alert (sync_task_id, generation, status, sent_at)
            values (@Id, @Generation, @status, case when @status = 'sent' then now() end)
            on conflict (sync_task_id, generation) do update set status = excluded.status, sent_at = excluded.sent_at
            """, new { task.Id, task.Generation, status }, tx, cancellationToken: ct));

    [LoggerMessage(Level = LogLevel.Error, Message = "Sync task {TaskId} ({Target}) failed after {Attempts} attempts: {Error} (no WeCom:AlertWebhookUrl, alert logged only)")]
    private static partial void LogNoWebhook(ILogger logger, Guid taskId, string target, int attempts, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "Sync task {TaskId} ({Target}) failed; alert suppressed (more than {Limit} alerts in the last minute), it will be counted in the next alert")]
    private static partial void LogSuppressed(ILogger logger, Guid taskId, string target, int limit);
}
