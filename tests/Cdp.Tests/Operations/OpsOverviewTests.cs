using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Cdp.Shared.Operations.Overview;
using Cdp.Tests.Support;
using Dapper;

namespace Cdp.Tests.Operations;

/// <summary>The local host with its alert timer on (every second), the robot at the stand-in and fast flushes.</summary>
public sealed class OverviewApp : CdpApp
{
    protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings =>
    [
        new("WeCom:AlertWebhookUrl", WeCom.RobotUrl),
        new("Alerts:Enabled", "true"),
        new("Alerts:Interval", "00:00:01"),
        new("Ops:FlushInterval", "00:00:00.500"),
    ];
}

public sealed class OpsOverviewTests(OverviewApp app) : IClassFixture<OverviewApp>
{
    [Fact]
    public async Task Overview_has_per_minute_series_from_stored_data_after_some_ingestion_and_views()
    {
        var ids = new List<Guid>();
        for (var i = 0; i < 3; i++)
            ids.Add((await CdpApp.IngestAsync(app.Client, "crm", Payloads.Crm("contact",
                new { LastName = "张", FirstName = "无忌" + i, MobilePhone = TestData.Mobile(), Email = TestData.Email() }))).Id);
        var contact = (await CdpApp.SettledAsync(app.Client, ids[0], TimeSpan.FromSeconds(60))).EntityId!.Value;
        foreach (var id in ids.Skip(1)) await CdpApp.SettledAsync(app.Client, id, TimeSpan.FromSeconds(60));
        for (var i = 0; i < 2; i++)
            Assert.Equal(HttpStatusCode.OK, (await app.Client.GetAsync($"/api/contacts/{contact}/360")).StatusCode);

        JsonObject overview = null!;
        await Eventually.Until(async () =>
        {
            overview = (await app.Client.GetFromJsonAsync<JsonObject>("/api/ops/overview"))!;
            var series = overview["series"]!;
            return Points(series["ingested"]?["crm"]) >= 3 && Points(series["resolved"]?["crm"]) >= 3
                && series["viewLatencyMs"]?["p99"]?.AsArray().Count > 0 && series["backlog"]?["data-ingestion"]?.AsArray().Count > 0
                && series["summaryLagMs"]?["p50"]?.AsArray().Count > 0;
        }, TimeSpan.FromSeconds(90), "overview series");

        var from = DateTimeOffset.Parse(overview["from"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
        var to = DateTimeOffset.Parse(overview["to"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange((to - from).TotalHours, 24, 24.02);
        Assert.Equal(60, overview["stepSeconds"]!.GetValue<int>());
        var point = overview["series"]!["ingested"]!["crm"]!.AsArray()[0]!.AsArray();
        Assert.EndsWith(":00Z", point[0]!.GetValue<string>());
        Assert.True(point[1]!.GetValue<double>() >= 1);
        Assert.Contains("miss", overview["series"]!["viewCache"]!.AsObject().Select(p => p.Key));
        Assert.NotNull(overview["openReviews"]);
        Assert.NotNull(overview["failedSyncs"]!["lastHour"]);
        Assert.NotNull(overview["openAlerts"]!.AsArray());
    }

    [Fact]
    public async Task Overview_needs_ops_read()
    {
        using var caller = await ApiKeyCaller.CreateAsync(app, "customers:read");
        Assert.Equal(HttpStatusCode.Forbidden, (await caller.Client.GetAsync("/api/ops/overview")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await app.Anonymous.GetAsync("/api/ops/overview")).StatusCode);
        using var ops = await ApiKeyCaller.CreateAsync(app, "ops:read");
        Assert.Equal(HttpStatusCode.OK, (await ops.Client.GetAsync("/api/ops/overview")).StatusCode);
    }

    [Fact]
    public async Task The_local_alert_timer_evaluates_on_its_own_and_the_alert_shows_as_open()
    {
        var topic = "ops-timer-" + Guid.NewGuid().ToString("N")[..8];
        await using (var conn = await app.Database.DataSource.OpenConnectionAsync())
            await conn.ExecuteAsync("""
                insert into topic_message (topic, message_key, payload, status, attempts, last_error, dead_at)
                values (@topic, 'k', '{}'::jsonb, 'dead', 4, 'boom', now())
                """, new { topic });

        await Eventually.Until(() => app.WeCom.Alerts.Any(a => a.Contains("CDP 告警: dead_letters<", StringComparison.Ordinal) && a.Contains(topic, StringComparison.Ordinal)),
            TimeSpan.FromSeconds(60), "the timer's alert");
        // The robot is told inside the evaluation's transaction: the row shows once it commits.
        await Eventually.Until(async () =>
        {
            var open = await app.Client.GetFromJsonAsync<JsonObject>("/api/ops/alerts?state=open");
            return open!["alerts"]!.AsArray().Any(a => a!["rule"]!.GetValue<string>() == "dead_letters" && a["level"]!.GetValue<string>() == "P3");
        }, TimeSpan.FromSeconds(30), "the open alert");
        var overview = await app.Client.GetFromJsonAsync<JsonObject>("/api/ops/overview");
        Assert.Contains(overview!["openAlerts"]!.AsArray(), a => a!["rule"]!.GetValue<string>() == "dead_letters");
        Assert.True(overview["deadLetters"]!.GetValue<long>() >= 1);

        await using (var conn = await app.Database.DataSource.OpenConnectionAsync())
            await conn.ExecuteAsync("delete from topic_message where topic = @topic", new { topic });
        await Eventually.Until(() => app.WeCom.Alerts.Any(a => a.Contains("CDP 告警已恢复: dead_letters<", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(60), "the timer's resolution");
    }

    [Fact]
    public void Quantiles_come_from_the_bucket_holding_the_rank_and_never_exceed_the_largest_value()
    {
        var buckets = new long[OpsHistogram.Bounds.Length + 1];
        buckets[OpsHistogram.BucketOf(3)] += 98;
        buckets[OpsHistogram.BucketOf(1_800)] += 2;
        Assert.Equal(5, OpsHistogram.Quantile(buckets, 1_800, 0.5));
        Assert.Equal(1_800, OpsHistogram.Quantile(buckets, 1_800, 0.99));
        Assert.Null(OpsHistogram.Quantile(new long[OpsHistogram.Bounds.Length + 1], 0, 0.5));
        Assert.Equal(OpsHistogram.Bounds.Length, OpsHistogram.BucketOf(1e9));
    }

    static int Points(JsonNode? series) => series?.AsArray().Sum(p => (int)p!.AsArray()[1]!.GetValue<double>()) ?? 0;
}
