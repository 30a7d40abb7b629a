using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Cdp.Shared;
using Cdp.Shared.Events;
using Cdp.Tests.Support;
using Dapper;
using Microsoft.Extensions.DependencyInjection;

namespace Cdp.Tests.Privacy;

/// <summary>
/// The 360's behaviour counts come from the daily pre-aggregate (ClickHouseHttp.DailyTable); they must equal a count
/// over the raw events, also after an event id arrives twice and after an erasure deleted some of the events.
/// </summary>
public sealed class DailyCountsTests(PrivacyApp app) : IClassFixture<PrivacyApp>
{
    static readonly TimeSpan Slack = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Daily_counts_equal_a_count_over_the_raw_events_after_a_repeated_event_id_and_after_an_erasure()
    {
        var company = "日计" + TestData.CompanyWord() + "有限公司";
        var (mobile, email) = (TestData.Mobile(), TestData.Email());
        var person = await app.CrmContactAsync(company, mobile, email);
        var colleague = await app.CrmContactAsync(company, TestData.Mobile(), TestData.Email());
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        var account = await conn.QuerySingleAsync<Guid>("select primary_account_id from contact where contact_id = @person", new { person });
        var (personUser, colleagueUser) = ("web-" + person, "web-" + colleague);
        var now = DateTimeOffset.UtcNow;
        object Event(string id, string user, Guid contact, string type, DateTimeOffset at) => new
        {
            eventId = id, userId = user, type, contactId = contact, accountId = account, occurredAt = at.ToString("O"), properties = new { path = "/pricing" },
        };
        var repeated = Event(TestData.Id("ev"), personUser, person, "click", now.AddHours(-3));
        await app.PostEventsAsync(
            Event(TestData.Id("ev"), personUser, person, "page_view", now.AddMinutes(-5)),
            Event(TestData.Id("ev"), personUser, person, "page_view", now.AddDays(-2)),
            repeated,
            Event(TestData.Id("ev"), colleagueUser, colleague, "page_view", now.AddDays(-1)),
            Event(TestData.Id("ev"), colleagueUser, colleague, "download", now.AddMinutes(-1)),
            Event(TestData.Id("ev"), colleagueUser, colleague, "download", now.AddDays(-40)));   // outside the 30 days
        await app.PostEventsAsync(repeated);   // the same event id again, in a request of its own: a second row in ClickHouse
        // Both requests written (the repeat may already be merged away: ReplacingMergeTree).
        await Eventually.Until(async () => await conn.ExecuteScalarAsync<long>("select count(*) from topic_message where topic = 'event-stream'") == 0
            && await app.ClickHouseSql($"SELECT uniqExact(event_id) FROM {app.EventsTable} WHERE account_id = toUUID('{account}')") == "6", Slack, "both requests in ClickHouse");

        var queries = app.Services.GetRequiredService<BehaviourQueries>();
        async Task SameAsRawAsync()
        {
            foreach (var (subject, column, id) in new[]
                     { (BehaviourSubject.Account, "account_id", account), (BehaviourSubject.Contact, "contact_id", person), (BehaviourSubject.Contact, "contact_id", colleague) })
                Assert.Equal(await RawCountsAsync(column, id), await queries.CountsByTypeAsync(subject, id));
        }
        await SameAsRawAsync();
        Assert.Equal(new Dictionary<string, long> { ["click"] = 1, ["download"] = 1, ["page_view"] = 3 }, await queries.CountsByTypeAsync(BehaviourSubject.Account, account));
        // Concurrent callers share queries (one IN list); each still gets its own customer's counts.
        var asked = Enumerable.Range(0, 60).Select(i => (i % 4) switch
        {
            0 => (BehaviourSubject.Account, account),
            1 => (BehaviourSubject.Contact, person),
            2 => (BehaviourSubject.Contact, colleague),
            _ => (BehaviourSubject.Lead, Guid.NewGuid()),
        }).ToList();
        var together = await Task.WhenAll(asked.Select(a => queries.CountsByTypeAsync(a.Item1, a.Item2)));
        for (var i = 0; i < asked.Count; i++)
            Assert.Equal(await RawCountsAsync(asked[i].Item1 switch { BehaviourSubject.Account => "account_id", BehaviourSubject.Contact => "contact_id", _ => "lead_id" }, asked[i].Item2), together[i]);

        // A request still queued when the erasure runs (held back by its backoff) holds both people's events: only the
        // person's row leaves it.
        await using (var tx = await conn.BeginTransactionAsync())
        {
            await AcceptEvents.PublishBatchAsync(conn, tx, [Row("queued-person", app.UserHash(personUser), person), Row("queued-colleague", app.UserHash(colleagueUser), colleague)], CancellationToken.None);
            await tx.CommitAsync();
        }
        await conn.ExecuteAsync("update topic_message set available_at = now() + interval '1 hour' where topic = 'event-stream' and payload::jsonb @> '[{\"event_id\":\"queued-person\"}]'");

        using var erase = await app.Client.PostAsJsonAsync("/api/privacy/subjects/erase", new { mobile, email, reason = "本人申请删除" });
        Assert.Equal(HttpStatusCode.Accepted, erase.StatusCode);
        await PrivacyApp.WaitForRequestAsync(app.Client, (await erase.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("requestId").GetGuid(), Slack);

        await SameAsRawAsync();
        Assert.Equal(new Dictionary<string, long> { ["download"] = 1, ["page_view"] = 1 }, await queries.CountsByTypeAsync(BehaviourSubject.Account, account));
        Assert.Empty((await queries.CountsByTypeAsync(BehaviourSubject.Contact, person))!);
        Assert.Equal("0", await app.ClickHouseSql(
            $"SELECT count() FROM {app.ClickHouseDatabase}.{ClickHouseHttp.DailyTable} WHERE subject = 'contact' AND subject_id = toUUID('{person}')"));
        var queued = await conn.QuerySingleAsync<(string Payload, int Items)>(
            "select payload::text, item_count from topic_message where topic = 'event-stream' and payload::jsonb @> '[{\"event_id\":\"queued-colleague\"}]'");
        Assert.Equal(1, queued.Items);
        Assert.Equal(["queued-colleague"], JsonDocument.Parse(queued.Payload).RootElement.EnumerateArray().Select(r => r.GetProperty("event_id").GetString()));
        await conn.ExecuteAsync("update topic_message set available_at = now() where topic = 'event-stream' and payload::jsonb @> '[{\"event_id\":\"queued-colleague\"}]'");

        EventRow Row(string id, string user, Guid contact) =>
            EventRow.From(new ValidEvent(id, user, contact, null, account, "page_view", now.AddMinutes(-1), "{}"), now);
    }

    /// <summary>The count the pre-aggregate stands for, over the raw events: distinct ids by type, today and the 29 days before.</summary>
    async Task<Dictionary<string, long>> RawCountsAsync(string column, Guid id)
    {
        var text = await app.ClickHouseSql($"""
            SELECT event_type, uniqExact(event_id) FROM {app.EventsTable}
            WHERE {column} = toUUID('{id}') AND toDate(occurred_at, 'UTC') > toDate(now(), 'UTC') - 30 GROUP BY event_type FORMAT TSV
            """);
        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t'))
            .ToDictionary(p => p[0], p => long.Parse(p[1], System.Globalization.CultureInfo.InvariantCulture));
    }
}
