using System.Globalization;
using System.Text;
using Cdp.Shared.Channels.WeCom;
using Cdp.Shared.Messaging;
using Cdp.Shared.Operations.Overview;
using Cdp.Shared.Storage;
using Cdp.Shared.Sync;
using Dapper;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Cdp.Shared.Operations.Alerts;

/// <summary>One rule's reading in an evaluation.</summary>
public sealed record AlertReading(AlertRule Rule, double Value, string? Detail)
{
    public bool Firing => Value > Rule.Threshold;
}

/// <summary>What an evaluation did: Ran is false when another process held the evaluation lock.</summary>
public sealed record AlertEvaluation(bool Ran, IReadOnlyList<AlertReading> Readings, int MessagesSent);

/// <summary>
/// Measures every rule from stored data (topic_message, ingestion_receipt, sync_task, ops_minute, ops_heartbeat,
/// health probes), opens and resolves ops_alert rows, and tells the WeCom group robot: one markdown message when an
/// alert opens, none while it stays open, one when it resolves. One process at a time across hosts: the whole
/// evaluation, the robot posts included, runs in one transaction holding a Postgres advisory lock (as the outbox relay
/// and the sync alerts do); a host that finds it held skips its turn. A post that fails is retried by the next turn.
/// </summary>
public sealed partial class AlertEvaluator(
    NpgsqlDataSource db, HealthCheck health, OpsRecorder recorder, AlertRobot robot, IOptions<AlertOptions> options,
    IOptions<WeComOptions> wecom, ILogger<AlertEvaluator> logger)
{
    public async Task<AlertEvaluation> EvaluateAsync(CancellationToken ct)
    {
        var settings = options.Value;
        var rules = AlertRules.From(settings);
        await recorder.FlushAsync(ct);   // this host's latest view latencies count too

        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        if (!await conn.ExecuteScalarAsync<bool>(new CommandDefinition(
                "select pg_try_advisory_xact_lock(hashtextextended('ops-alerts', 1101))", transaction: tx, cancellationToken: ct)))
            return new AlertEvaluation(false, [], 0);

        var readings = new List<AlertReading>();
        foreach (var rule in rules) readings.Add(await MeasureAsync(conn, tx, rule, settings, ct));
        await conn.ExecuteAsync(new CommandDefinition(
            "delete from ops_minute where minute < now() - interval '48 hours'", transaction: tx, cancellationToken: ct));

        foreach (var reading in readings)
        {
            var open = await conn.ExecuteScalarAsync<long?>(new CommandDefinition(
                "select alert_id from ops_alert where rule = @Name and resolved_at is null", new { reading.Rule.Name }, tx, cancellationToken: ct));
            if (reading.Firing && open is null)
                await conn.ExecuteAsync(new CommandDefinition("""
                    insert into ops_alert (rule, level, value, threshold, detail, last_value) values (@Name, @Level, @Value, @Threshold, @Detail, @Value)
                    """, new { reading.Rule.Name, reading.Rule.Level, reading.Value, reading.Rule.Threshold, reading.Detail }, tx, cancellationToken: ct));
            else if (open is { } id)
                await conn.ExecuteAsync(new CommandDefinition(
                    "update ops_alert set last_value = @Value, resolved_at = case when @Firing then null else now() end where alert_id = @id",
                    new { reading.Value, reading.Firing, id }, tx, cancellationToken: ct));
        }
        // Rules switched off in the settings resolve too.
        await conn.ExecuteAsync(new CommandDefinition(
            "update ops_alert set resolved_at = now() where resolved_at is null and not (rule = any(@names))",
            new { names = rules.Select(r => r.Name).ToArray() }, tx, cancellationToken: ct));

        var sent = await NotifyAsync(conn, tx, ct);
        await tx.CommitAsync(ct);
        return new AlertEvaluation(true, readings, sent);
    }

    async Task<AlertReading> MeasureAsync(NpgsqlConnection conn, NpgsqlTransaction tx, AlertRule rule, AlertOptions settings, CancellationToken ct)
    {
        CommandDefinition Sql(string sql, object? args = null) => new(sql, args, tx, cancellationToken: ct);
        switch (rule.Name)
        {
            case AlertRules.Backlog:
            {
                var pending = (await conn.QueryAsync<(string Topic, long Count)>(Sql(
                    "select topic, count(*) from topic_message where status = 'pending' group by topic"))).ToDictionary(r => r.Topic, r => r.Count);
                // The backlog's history for the overview: one sample per evaluation and topic.
                await using var batch = new NpgsqlBatch(conn, tx);
                var minute = await conn.ExecuteScalarAsync<DateTime>(Sql("select date_trunc('minute', now())"));
                foreach (var topic in Topics.All.Union(pending.Keys))
                {
                    var n = pending.GetValueOrDefault(topic);
                    batch.BatchCommands.Add(OpsRecorder.Upsert(DateTime.SpecifyKind(minute, DateTimeKind.Utc), OpsMetrics.Backlog, topic, 1, n, n, []));
                }
                await batch.ExecuteNonQueryAsync(ct);
                var worst = pending.OrderByDescending(p => p.Value).FirstOrDefault();
                return new(rule, pending.Values.Sum(), worst.Key is null ? null : $"largest: {worst.Key} {worst.Value}");
            }
            case AlertRules.IngestFailureRate:
            {
                var (failed, total) = await conn.QuerySingleAsync<(long, long)>(Sql("""
                    select count(*) filter (where status = 'failed'), count(*) from ingestion_receipt where received_at > now() - @Window
                    """, new { settings.Window }));
                return new(rule, total == 0 ? 0 : Math.Round(100.0 * failed / total, 2), $"{failed} of {total} in {Minutes(settings.Window)}");
            }
            case AlertRules.SummaryLag:
            {
                var lag = await conn.ExecuteScalarAsync<double?>(Sql("""
                    select extract(epoch from now() - min(created_at))::float8 from topic_message where topic = @Topic and status = 'pending'
                    """, new { Topic = Topics.SummaryCalculation }));
                return new(rule, Math.Round(Math.Max(0, lag ?? 0), 1), null);
            }
            case AlertRules.ViewP99:
            {
                var rows = (await conn.QueryAsync<(long[] Buckets, double Max)>(Sql("""
                    select buckets, max from ops_minute where metric = @Metric and minute >= date_trunc('minute', now() - @Window)
                    """, new { Metric = OpsMetrics.ViewLatency, settings.Window }))).ToList();
                var p99 = OpsHistogram.Quantile(OpsHistogram.Merge(rows.Select(r => r.Buckets)), rows.Count == 0 ? 0 : rows.Max(r => r.Max), 0.99);
                return new(rule, Math.Round(p99 ?? 0, 1), $"{rows.Sum(r => r.Buckets.Sum())} views in {Minutes(settings.Window)}");
            }
            case AlertRules.ServiceDown:
                return await ServiceDownAsync(conn, tx, rule, settings, ct);
            case AlertRules.SyncFailed:
                return new(rule, await conn.ExecuteScalarAsync<long>(Sql(
                    "select count(*) from sync_task where status = 'failed' and updated_at > now() - interval '1 hour'")), null);
            case AlertRules.DeadLetters:
            {
                var dead = (await conn.QueryAsync<(string Topic, long Count)>(Sql(
                    "select topic, count(*) from topic_message where status = 'dead' group by topic order by 2 desc"))).ToList();
                return new(rule, dead.Sum(d => d.Count), dead.Count == 0 ? null : string.Join(", ", dead.Select(d => $"{d.Topic} {d.Count}")));
            }
            default:
                throw new InvalidOperationException($"No measurement for alert rule {rule.Name}.");
        }
    }

    /// <summary>Hosts whose heartbeat stopped without a clean stop, and dependencies failing N health checks in a row.</summary>
    async Task<AlertReading> ServiceDownAsync(NpgsqlConnection conn, NpgsqlTransaction tx, AlertRule rule, AlertOptions settings, CancellationToken ct)
    {
        await conn.ExecuteAsync(new CommandDefinition(
            "delete from ops_heartbeat where renewed_at < now() - @ForgetDownHostAfter or stopped_at < now() - interval '1 day'",
            new { settings.ForgetDownHostAfter }, tx, cancellationToken: ct));
        var hosts = (await conn.QueryAsync<string>(new CommandDefinition(
            "select host_id from ops_heartbeat where stopped_at is null and renewed_at < now() - @HeartbeatTimeout order by host_id",
            new { settings.HeartbeatTimeout }, tx, cancellationToken: ct))).ToList();

        var report = await health.CheckAsync(ct);
        foreach (var dependency in report.Dependencies)
            await conn.ExecuteAsync(new CommandDefinition("""
                insert into ops_dependency as d (name, failures_in_row, failing_since, detail)
                values (@Name, case when @Up then 0 else 1 end, case when @Up then null else now() end, @Detail)
                on conflict (name) do update set
                    failures_in_row = case when @Up then 0 else d.failures_in_row + 1 end,
                    failing_since = case when @Up then null else coalesce(d.failing_since, now()) end,
                    checked_at = now(), detail = @Detail
                """, new { dependency.Name, dependency.Up, Detail = dependency.Up ? null : dependency.Detail }, tx, cancellationToken: ct));
        var dependencies = (await conn.QueryAsync<string>(new CommandDefinition(
            "select name from ops_dependency where failures_in_row >= @DependencyFailuresInRow order by name",
            new { settings.DependencyFailuresInRow }, tx, cancellationToken: ct))).ToList();

        var down = hosts.Select(h => "host " + h).Concat(dependencies.Select(d => "dependency " + d)).ToList();
        return new(rule, down.Count, down.Count == 0 ? null : string.Join(", ", down));
    }

    /// <summary>Posts what the robot has not been told yet: openings, then resolutions of alerts whose opening went out.</summary>
    async Task<int> NotifyAsync(NpgsqlConnection conn, NpgsqlTransaction tx, CancellationToken ct)
    {
        // Opened and resolved before any message went out (the robot was unreachable): nothing to tell any more.
        await conn.ExecuteAsync(new CommandDefinition("""
            update ops_alert set notified_at = now(), resolution_notified_at = now(), detail = coalesce(detail || '; ', '') || 'not announced (resolved first)'
            where notified_at is null and resolved_at is not null
            """, transaction: tx, cancellationToken: ct));
        var due = (await conn.QueryAsync<AlertRow>(new CommandDefinition($"""
            select {AlertRow.Columns} from ops_alert where notified_at is null or (resolved_at is not null and resolution_notified_at is null)
            order by alert_id
            """, transaction: tx, cancellationToken: ct))).ToList();
        var url = wecom.Value.AlertWebhookUrl;
        var sent = 0;
        foreach (var alert in due)
        {
            var resolution = alert.NotifiedAt is not null;
            var text = resolution ? ResolvedText(alert) : OpenedText(alert);
            if (string.IsNullOrEmpty(url))
            {
                LogNoWebhook(logger, alert.Level, alert.Rule, alert.Value, alert.Threshold, resolution ? "resolved" : "opened");
            }
            else
            {
                try
                {
                    await robot.PostMarkdownAsync(url, text, ct);
                    sent++;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.LogWarning(e, "Could not post alert {Rule} to the WeCom robot; the next evaluation tries again", alert.Rule);
                    continue;
                }
            }
            await conn.ExecuteAsync(new CommandDefinition(resolution
                    ? "update ops_alert set resolution_notified_at = now() where alert_id = @AlertId"
                    : "update ops_alert set notified_at = now() where alert_id = @AlertId",
                new { alert.AlertId }, tx, cancellationToken: ct));
        }
        return sent;
    }

    static string OpenedText(AlertRow alert)
    {
        var description = AlertRules.Defaults.FirstOrDefault(r => r.Name == alert.Rule);
        var text = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"### <font color=\"warning\">[{alert.Level}] CDP 告警: {alert.Rule}</font>\n")
            .Append(CultureInfo.InvariantCulture, $"> 规则: {description?.Description ?? alert.Rule} > {Number(alert.Threshold)}{Unit(description)}\n")
            .Append(CultureInfo.InvariantCulture, $"> 当前值: <font color=\"warning\">{Number(alert.Value)}{Unit(description)}</font>\n")
            .Append(CultureInfo.InvariantCulture, $"> 阈值: {Number(alert.Threshold)}{Unit(description)}\n")
            .Append(CultureInfo.InvariantCulture, $"> 开始: {Time(alert.OpenedAt)}\n");
        if (!string.IsNullOrEmpty(alert.Detail)) text.Append(CultureInfo.InvariantCulture, $"> 详情: {alert.Detail}\n");
        return text.ToString();
    }

    static string ResolvedText(AlertRow alert)
    {
        var description = AlertRules.Defaults.FirstOrDefault(r => r.Name == alert.Rule);
        return new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"### <font color=\"info\">[{alert.Level}] CDP 告警已恢复: {alert.Rule}</font>\n")
            .Append(CultureInfo.InvariantCulture, $"> 当前值: {Number(alert.LastValue)}{Unit(description)}\n")
            .Append(CultureInfo.InvariantCulture, $"> 阈值: {Number(alert.Threshold)}{Unit(description)}\n")
            .Append(CultureInfo.InvariantCulture, $"> 开始: {Time(alert.OpenedAt)}\n")
            .Append(CultureInfo.InvariantCulture, $"> 恢复: {Time(alert.ResolvedAt!.Value)}\n")
            .ToString();
    }

    static string Unit(AlertRule? rule) => rule is null ? "" : rule.Unit == "%" ? "%" : " " + rule.Unit;

    static string Number(double value) => value.ToString("0.##", CultureInfo.InvariantCulture);

    static string Time(DateTime at) => DbTime.Utc(at).ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);

    static string Minutes(TimeSpan window) => $"{window.TotalMinutes.ToString("0.#", CultureInfo.InvariantCulture)} min";

    [LoggerMessage(Level = LogLevel.Error, Message = "Alert [{Level}] {Rule} {Transition}: value {Value}, threshold {Threshold} (no WeCom:AlertWebhookUrl, logged only)")]
    private static partial void LogNoWebhook(ILogger logger, string level, string rule, double value, double threshold, string transition);
}
