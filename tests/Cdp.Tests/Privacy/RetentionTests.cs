using System.Net.Http.Json;
using Cdp.Orchestrations;
using Cdp.Shared.Events;
using Cdp.Shared.Privacy;
using Cdp.Tests.Support;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Cdp.Tests.Privacy;

/// <summary>PIPL retention as housekeeping applies it (Retention:*), on back-dated rows.</summary>
public sealed class RetentionTests(PrivacyApp app) : IClassFixture<PrivacyApp>
{
    [Fact]
    public void The_defaults_are_30_180_and_730_days_and_nonsense_is_refused()
    {
        var defaults = new RetentionOptions();
        Assert.Equal((30, 180, 730), (defaults.RawPayloadDays, defaults.ResolvedReviewDays, defaults.EventDays));
        Assert.Empty(defaults.Errors());
        Assert.Equal(3, new RetentionOptions { RawPayloadDays = -1, ResolvedReviewDays = 99_999, EventDays = 0 }.Errors().Count());
        Assert.Equal(30, app.Services.GetRequiredService<IOptions<RetentionOptions>>().Value.RawPayloadDays);
    }

    [Fact]
    public async Task A_payload_past_retention_keeps_only_hash_and_outcome_and_a_resend_is_still_a_duplicate()
    {
        var json = Payloads.Crm("contact", new { LastName = "留", FirstName = "存", Company = "留存" + TestData.CompanyWord() + "有限公司", MobilePhone = TestData.Mobile() });
        var (id, _) = await CdpApp.IngestAsync(app.Client, "crm", json);
        var settled = await CdpApp.SettledAsync(app.Client, id);
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        var fresh = await conn.QuerySingleAsync<Guid>("insert into ingestion_receipt (ingestion_id, channel, body_hash, payload, status) values (gen_random_uuid(), 'crm', md5(random()::text), '{}', 'processed') returning ingestion_id");
        await conn.ExecuteAsync("update ingestion_receipt set received_at = now() - interval '31 days' where ingestion_id = @id", new { id });

        await app.Services.GetRequiredService<Housekeeping>().RunAsync();

        var row = await conn.QuerySingleAsync<(string? Payload, string BodyHash, string Status, Guid? EntityId)>(
            "select payload, body_hash, status, entity_id from ingestion_receipt where ingestion_id = @id", new { id });
        Assert.Null(row.Payload);
        Assert.Equal(64, row.BodyHash.Length);
        Assert.Equal(("processed", settled.EntityId), (row.Status, row.EntityId));
        Assert.Equal("{}", await conn.QuerySingleAsync<string>("select payload from ingestion_receipt where ingestion_id = @fresh", new { fresh }));

        var (again, duplicate) = await CdpApp.IngestAsync(app.Client, "crm", json);
        Assert.True(duplicate);
        Assert.Equal(id, again);
        Assert.Equal("processed", (await app.Client.GetFromJsonAsync<System.Text.Json.JsonElement>($"/api/ingestions/{id}")).GetProperty("status").GetString());
    }

    [Fact]
    public async Task A_resolved_review_past_retention_is_deleted_and_an_open_or_recent_one_stays()
    {
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        var receipt = await conn.QuerySingleAsync<Guid>("insert into ingestion_receipt (ingestion_id, channel, body_hash, payload, status) values (gen_random_uuid(), 'crm', md5(random()::text), '{}', 'review') returning ingestion_id");
        async Task<Guid> Review(string status, string? resolvedAgo) => await conn.QuerySingleAsync<Guid>($"""
            insert into identity_review (review_id, ingestion_id, entity_type, record, candidates, status, resolved_at)
            values (gen_random_uuid(), @receipt, 'contact', '{"{}"}', '[]', @status, {(resolvedAgo is null ? "null" : $"now() - interval '{resolvedAgo}'")})
            returning review_id
            """, new { receipt, status });
        var old = await Review("resolved", "181 days");
        var recent = await Review("resolved", "10 days");
        var open = await Review("open", null);

        var result = await app.Services.GetRequiredService<ApplyRetention>().RunAsync(CancellationToken.None);

        Assert.True(result.ReviewsDeleted >= 1);
        var left = (await conn.QueryAsync<Guid>("select review_id from identity_review where review_id = any(@ids)", new { ids = new[] { old, recent, open } })).ToHashSet();
        Assert.Equal(new HashSet<Guid> { recent, open }, left);
    }

    [Fact]
    public async Task Events_past_retention_are_deleted_from_ClickHouse_by_partition_and_by_row_and_newer_ones_stay()
    {
        var user = app.UserHash(TestData.Id("old"));
        var contact = Guid.NewGuid();   // so the rows are in the contact-ordered copy too, which retention must cover alike
        string Row(string id, DateTimeOffset at) => $$"""{"event_id":"{{id}}","user_id":"{{user}}","account_id":"{{Guid.Empty}}","contact_id":"{{contact}}","lead_id":"{{Guid.Empty}}","event_type":"page_view","occurred_at":"{{EventRow.ClickHouseTime(at)}}","properties":"{}","ingested_at":"{{EventRow.ClickHouseTime(DateTimeOffset.UtcNow)}}"}""";
        var now = DateTimeOffset.UtcNow;
        await app.ClickHouseSql($"INSERT INTO {app.EventsTable} FORMAT JSONEachRow\n" + string.Join("\n",
            Row("three-years", now.AddDays(-1100)), Row("just-past", now.AddDays(-732)), Row("just-inside", now.AddDays(-700)), Row("today", now)));

        var result = await app.Services.GetRequiredService<ApplyRetention>().RunAsync(CancellationToken.None);
        await app.Services.GetRequiredService<ClickHouseHttp>().WaitForMutationsAsync(TimeSpan.FromSeconds(60), CancellationToken.None);

        Assert.True(result.EventPartitionsDropped >= 1);
        Assert.Equal("just-inside\ntoday", await app.ClickHouseSql($"SELECT event_id FROM {app.EventsTable} WHERE user_id = '{user}' ORDER BY occurred_at"));
        Assert.Equal("just-inside\ntoday", await app.ClickHouseSql(
            $"SELECT event_id FROM {app.ClickHouseDatabase}.{ClickHouseHttp.OrderedCopies[0].Table} WHERE user_id = '{user}' ORDER BY occurred_at"));
        // The daily counts (ClickHouseHttp.DailyTable) keep the days of the events left, and no older one.
        Assert.Equal($"{now.AddDays(-700).UtcDateTime:yyyy-MM-dd}\n{now.UtcDateTime:yyyy-MM-dd}", await app.ClickHouseSql(
            $"SELECT DISTINCT day FROM {app.ClickHouseDatabase}.{ClickHouseHttp.DailyTable} WHERE subject = 'contact' AND subject_id = toUUID('{contact}') ORDER BY day"));
    }

    [Fact]
    public async Task Rows_stored_before_user_ids_were_hashed_are_re_keyed_under_the_hash_once()
    {
        var raw = TestData.Id("legacy") + "'quote";
        await app.ClickHouseSql($"INSERT INTO {app.EventsTable} (event_id, user_id, event_type, occurred_at, properties, ingested_at) VALUES "
            + $"('legacy-1', '{raw.Replace("'", "\\'")}', 'page_view', now(), '{{}}', now())");

        // As if this database predated hashing: its mark removed (TinyLog cannot delete rows).
        await app.ClickHouseSql($"DROP TABLE IF EXISTS {app.ClickHouseDatabase}.cdp_schema_mark");
        var writer = app.Services.GetRequiredService<EventStreamWriter>();
        Assert.True(await writer.HashLegacyUserIdsAsync(CancellationToken.None) >= 1);
        Assert.Equal(0, await writer.HashLegacyUserIdsAsync(CancellationToken.None));   // once per database

        Assert.Equal(0, await app.ClickHouseCount("NOT match(user_id, '^u_[0-9a-f]{32}$')"));
        Assert.Equal(1, await app.ClickHouseCount($"user_id = '{app.UserHash(raw)}' AND event_id = 'legacy-1'"));
    }
}
