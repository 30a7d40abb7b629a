using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Cdp.Shared.Messaging;
using Cdp.Shared.Operations.Alerts;
using Cdp.Shared.Operations.Overview;
using Cdp.Tests.Support;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Cdp.Tests.Operations;

/// <summary>
/// The local host with the group robot pointed at the stand-in and fast heartbeats; its alert timer stays off
/// (Alerts:Enabled false), the tests drive the evaluation themselves.
/// </summary>
public sealed class AlertApp : CdpApp
{
    protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings =>
    [
        new("WeCom:AlertWebhookUrl", WeCom.RobotUrl),
        new("Ops:HeartbeatInterval", "00:00:01"),
        new("Ops:FlushInterval", "00:00:00.500"),
    ];
}

/// <summary>
/// Each alert rule, alone (the others switched off in the evaluator's options), fires exactly once into the robot
/// stand-in while its condition holds, however often it is evaluated, and sends one resolution when it clears.
/// </summary>
public sealed class AlertRuleTests(AlertApp app) : IClassFixture<AlertApp>
{
    static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Backlog_above_a_lowered_threshold_fires_once_and_resolves_once_when_drained()
    {
        var from = app.WeCom.Alerts.Count;
        var evaluator = Evaluator(AlertRules.Backlog, threshold: 5);
        var topic = "ops-test-" + Guid.NewGuid().ToString("N")[..8];
        for (var i = 0; i < 8; i++) await Publish(topic);

        await EvaluateTimes(evaluator, 3);
        var opened = Assert.Single(Opened(from, AlertRules.Backlog));
        Assert.Contains("[P1]", opened);
        Assert.Contains("当前值:", opened);       // the value
        Assert.Contains("阈值: 5 messages", opened);
        Assert.Contains("开始:", opened);         // since
        Assert.Empty(Resolved(from, AlertRules.Backlog));

        await Execute("delete from topic_message where topic = @topic", new { topic });
        await EvaluateTimes(evaluator, 3);
        Assert.Single(Opened(from, AlertRules.Backlog));
        Assert.Single(Resolved(from, AlertRules.Backlog));

        var history = await app.Client.GetFromJsonAsync<JsonObject>("/api/ops/alerts?state=resolved");
        var alert = history!["alerts"]!.AsArray().First(a => a!["rule"]!.GetValue<string>() == AlertRules.Backlog)!;
        Assert.Equal(("P1", 5.0, "resolved"), (alert["level"]!.GetValue<string>(), alert["threshold"]!.GetValue<double>(), alert["state"]!.GetValue<string>()));
        Assert.True(alert["value"]!.GetValue<double>() >= 8);
    }

    [Fact]
    public async Task Ingest_failure_rate_above_1_percent_with_injected_failures_fires_once_and_resolves_when_diluted()
    {
        var from = app.WeCom.Alerts.Count;
        var evaluator = Evaluator(AlertRules.IngestFailureRate);
        await EvaluateTimes(evaluator, 1);
        Assert.Empty(Opened(from, AlertRules.IngestFailureRate));

        // WeCom down for good: the record's retries run out and its receipt ends 'failed'.
        var externalId = TestData.Id("wm");
        app.WeCom.AddContact(externalId, "殷离", null, "sales05");
        app.WeCom.FailNext(10_000, HttpStatusCode.ServiceUnavailable, WeComStandIn.GetContactPath);
        try
        {
            var callback = WeComCallbacks.Build(app.WeComCrypto, WeComStandIn.DefaultCorpId,
                WeComCallbacks.ChangeExternalContactXml(WeComStandIn.DefaultCorpId, "add_external_contact", "sales05", externalId));
            using var response = await app.Client.PostAsync($"/api/ingest/wecom?{callback.Query}", new StringContent(callback.Body, System.Text.Encoding.UTF8, "text/xml"));
            var id = Guid.Parse(response.Headers.GetValues("X-Cdp-Ingestion-Id").Single());
            Assert.Equal("failed", (await CdpApp.SettledAsync(app.Client, id, Patience)).Status);
        }
        finally
        {
            app.WeCom.ClearCues();
        }

        await EvaluateTimes(evaluator, 3);
        var opened = Assert.Single(Opened(from, AlertRules.IngestFailureRate));
        Assert.Contains("[P2]", opened);

        // 1 failure among more than 100 receipts is under 1 %.
        var total = await Scalar<long>("select count(*) from ingestion_receipt where received_at > now() - interval '5 minutes'");
        for (var i = total; i <= 100; i++)
            await CdpApp.IngestAsync(app.Client, "crm", Payloads.Crm("contact", new { LastName = "周", FirstName = "芷若" + i, Email = TestData.Email() }));
        await EvaluateTimes(evaluator, 2);
        Assert.Single(Opened(from, AlertRules.IngestFailureRate));
        Assert.Single(Resolved(from, AlertRules.IngestFailureRate));
        await Execute("delete from topic_message where status = 'dead'");
    }

    [Fact]
    public async Task Summary_lag_over_5_minutes_fires_once_and_resolves_once_the_message_is_handled()
    {
        var from = app.WeCom.Alerts.Count;
        var evaluator = Evaluator(AlertRules.SummaryLag);
        // A summary trigger published 10 minutes ago and still waiting (backing off).
        var id = await Scalar<long>("""
            insert into topic_message (topic, message_key, payload, created_at, available_at)
            values (@Topic, 'lead:lagging', '{}'::jsonb, now() - interval '10 minutes', now() + interval '1 hour') returning message_id
            """, new { Topic = Topics.SummaryCalculation });

        await EvaluateTimes(evaluator, 3);
        var opened = Assert.Single(Opened(from, AlertRules.SummaryLag));
        Assert.Contains("[P2]", opened);
        Assert.Contains("300 s", opened);

        await Execute("delete from topic_message where message_id = @id", new { id });
        await EvaluateTimes(evaluator, 2);
        Assert.Single(Resolved(from, AlertRules.SummaryLag));
    }

    [Fact]
    public async Task Slow_360_views_fire_the_P99_rule_once_and_it_resolves_when_views_are_fast_again()
    {
        var from = app.WeCom.Alerts.Count;
        var evaluator = Evaluator(AlertRules.ViewP99);
        var recorder = app.Services.GetRequiredService<OpsRecorder>();
        for (var i = 0; i < 5; i++) recorder.Record(OpsMetrics.ViewLatency, "uncached", 1_800);

        await EvaluateTimes(evaluator, 3);
        var opened = Assert.Single(Opened(from, AlertRules.ViewP99));
        Assert.Contains("[P3]", opened);
        Assert.Contains("1800 ms", opened);

        for (var i = 0; i < 2_000; i++) recorder.Record(OpsMetrics.ViewLatency, "cached", 3);
        await EvaluateTimes(evaluator, 2);
        Assert.Single(Opened(from, AlertRules.ViewP99));
        Assert.Single(Resolved(from, AlertRules.ViewP99));
    }

    [Fact]
    public async Task A_host_that_stops_without_a_clean_shutdown_is_reported_down_once_by_another_host()
    {
        var from = app.WeCom.Alerts.Count;
        var evaluator = Evaluator(AlertRules.ServiceDown, tweak: o =>
        {
            o.HeartbeatTimeout = TimeSpan.FromSeconds(8);
            o.ForgetDownHostAfter = TimeSpan.FromSeconds(25);
        });
        await EvaluateTimes(evaluator, 1);
        Assert.Empty(Opened(from, AlertRules.ServiceDown));

        var hosts = await Scalar<long>("select count(*) from ops_heartbeat");
        var other = await HostProcess.StartAsync(new Dictionary<string, string?>(app.Settings) { ["Ops:HeartbeatInterval"] = "00:00:01" });
        try
        {
            await Eventually.Until(async () => await Scalar<long>("select count(*) from ops_heartbeat") > hosts, Patience, "the other host's heartbeat");
            other.Kill();
            await Eventually.Until(async () =>
            {
                await evaluator.EvaluateAsync(CancellationToken.None);
                return Opened(from, AlertRules.ServiceDown).Count > 0;
            }, Patience, "service down reported");
            var opened = Assert.Single(Opened(from, AlertRules.ServiceDown));
            Assert.Contains("[P0]", opened);
            Assert.Contains($":{other.Pid}:", opened);   // which host

            // Forgotten after a while (a replaced container): the alert resolves, once.
            await Eventually.Until(async () =>
            {
                await evaluator.EvaluateAsync(CancellationToken.None);
                return Resolved(from, AlertRules.ServiceDown).Count > 0;
            }, Patience, "service down resolved");
            await EvaluateTimes(evaluator, 2);
            Assert.Single(Opened(from, AlertRules.ServiceDown));
            Assert.Single(Resolved(from, AlertRules.ServiceDown));
        }
        finally
        {
            await other.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_sync_task_failed_in_the_last_hour_fires_once_and_resolves_when_it_is_older()
    {
        var from = app.WeCom.Alerts.Count;
        var evaluator = Evaluator(AlertRules.SyncFailed);
        var id = Guid.NewGuid();
        await Execute("""
            insert into sync_task (sync_task_id, target, entity_type, entity_id, change_seq, payload, status, attempts, last_error)
            values (@id, 'wecom_tags', 'contact', gen_random_uuid(), nextval('sync_task_change_seq'), '{}'::jsonb, 'failed', 5, 'gave up')
            """, new { id });

        await EvaluateTimes(evaluator, 3);
        Assert.Contains("[P2]", Assert.Single(Opened(from, AlertRules.SyncFailed)));

        await Execute("update sync_task set updated_at = now() - interval '2 hours' where sync_task_id = @id", new { id });
        await EvaluateTimes(evaluator, 2);
        Assert.Single(Resolved(from, AlertRules.SyncFailed));
    }

    [Fact]
    public async Task Dead_letters_fire_once_and_resolve_once_requeued_and_handled()
    {
        var from = app.WeCom.Alerts.Count;
        var evaluator = Evaluator(AlertRules.DeadLetters);
        var topic = "ops-dead-" + Guid.NewGuid().ToString("N")[..8];
        await InsertDeadAsync(topic);

        await EvaluateTimes(evaluator, 3);
        var opened = Assert.Single(Opened(from, AlertRules.DeadLetters));
        Assert.Contains(topic, opened);

        await Execute("delete from topic_message where topic = @topic", new { topic });
        await EvaluateTimes(evaluator, 2);
        Assert.Single(Resolved(from, AlertRules.DeadLetters));
    }

    [Fact]
    public async Task Two_evaluators_at_once_send_one_message_and_only_one_of_them_runs_a_turn()
    {
        var from = app.WeCom.Alerts.Count;
        var a = Evaluator(AlertRules.DeadLetters);
        var b = Evaluator(AlertRules.DeadLetters);
        var topic = "ops-race-" + Guid.NewGuid().ToString("N")[..8];
        await InsertDeadAsync(topic);
        // The robot answers slowly (within the client's 3 s attempt timeout): the first evaluator is still posting,
        // holding the lock, when the other tries.
        app.WeCom.DelayNext(TimeSpan.FromSeconds(1.5), 1, WeComStandIn.RobotPath);

        var turns = await Task.WhenAll(a.EvaluateAsync(CancellationToken.None), b.EvaluateAsync(CancellationToken.None));
        Assert.Single(turns, t => t.Ran);
        await Task.WhenAll(Enumerable.Range(0, 3).SelectMany(_ => new[] { a.EvaluateAsync(CancellationToken.None), b.EvaluateAsync(CancellationToken.None) }));
        Assert.Single(Opened(from, AlertRules.DeadLetters));

        await Execute("delete from topic_message where topic = @topic", new { topic });
        await Task.WhenAll(a.EvaluateAsync(CancellationToken.None), b.EvaluateAsync(CancellationToken.None));
        await EvaluateTimes(a, 1);
        Assert.Single(Resolved(from, AlertRules.DeadLetters));
    }

    [Fact]
    public async Task Alert_history_needs_ops_read_and_refuses_an_unknown_state()
    {
        using var caller = await ApiKeyCaller.CreateAsync(app, "customers:read");
        Assert.Equal(HttpStatusCode.Forbidden, (await caller.Client.GetAsync("/api/ops/alerts")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await app.Anonymous.GetAsync("/api/ops/alerts")).StatusCode);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await app.Client.GetAsync("/api/ops/alerts?state=maybe")).StatusCode);
        using var ops = await ApiKeyCaller.CreateAsync(app, "ops:read");
        Assert.Equal(HttpStatusCode.OK, (await ops.Client.GetAsync("/api/ops/alerts?state=open")).StatusCode);
    }

    /// <summary>An evaluator with only <paramref name="rule"/> switched on, its threshold optionally lowered.</summary>
    AlertEvaluator Evaluator(string rule, double? threshold = null, Action<AlertOptions>? tweak = null)
    {
        var options = new AlertOptions();
        foreach (var r in AlertRules.Defaults)
            options.Rules[r.Name] = new AlertRuleOptions { Enabled = r.Name == rule, Threshold = r.Name == rule ? threshold : null };
        tweak?.Invoke(options);
        return ActivatorUtilities.CreateInstance<AlertEvaluator>(app.Services, Options.Create(options));
    }

    static async Task EvaluateTimes(AlertEvaluator evaluator, int times)
    {
        for (var i = 0; i < times; i++) Assert.True((await evaluator.EvaluateAsync(CancellationToken.None)).Ran);
    }

    List<string> Opened(int from, string rule) => [.. app.WeCom.Alerts.Skip(from).Where(a => a.Contains($"CDP 告警: {rule}<", StringComparison.Ordinal))];

    List<string> Resolved(int from, string rule) => [.. app.WeCom.Alerts.Skip(from).Where(a => a.Contains($"CDP 告警已恢复: {rule}<", StringComparison.Ordinal))];

    Task InsertDeadAsync(string topic) => Execute("""
        insert into topic_message (topic, message_key, payload, status, attempts, last_error, dead_at)
        values (@topic, 'k', '{}'::jsonb, 'dead', 4, 'boom', now())
        """, new { topic });

    async Task Publish(string topic)
    {
        await Execute("insert into topic_message (topic, message_key, payload) values (@topic, 'k', '{}'::jsonb)", new { topic });
    }

    async Task Execute(string sql, object? args = null)
    {
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        await conn.ExecuteAsync(sql, args);
    }

    async Task<T> Scalar<T>(string sql, object? args = null)
    {
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        return (await conn.ExecuteScalarAsync<T>(sql, args))!;
    }
}
