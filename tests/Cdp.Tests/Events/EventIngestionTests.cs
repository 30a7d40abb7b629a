using System.Net;
using System.Text;
using Cdp.Shared.Events;
using Cdp.Shared.Messaging;
using Cdp.Tests.Support;
using Dapper;
using Microsoft.Extensions.DependencyInjection;

namespace Cdp.Tests.Events;

/// <summary>POST /api/events end to end: the local host in-process, real Postgres and ClickHouse.</summary>
public sealed class EventIngestionTests(EventsApp app) : IClassFixture<EventsApp>
{
    static readonly TimeSpan Landing = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_batch_of_1000_with_3_bad_events_accepts_997_and_explains_the_3_by_index()
    {
        var user = TestData.Id("u");
        var events = Enumerable.Range(0, 1000).Select(i => EventsApp.Event($"{user}-{i}", user)).ToList();
        events[10] = new { eventId = "", userId = user, type = "click", occurredAt = DateTimeOffset.UtcNow.ToString("O") };
        events[500] = EventsApp.Event($"{user}-500", user, at: DateTimeOffset.UtcNow.AddDays(3));
        events[999] = new { eventId = $"{user}-999", userId = user, type = "click", occurredAt = "2026-01-01T00:00:00Z", accountId = "not-a-guid" };

        var answer = await EventsApp.PostOkAsync(app.Client, events);

        Assert.Equal(997, answer.Accepted);
        Assert.Equal([10, 500, 999], answer.Rejected.Select(r => r.Index));
        Assert.Contains("eventId", answer.Rejected[0].Reason);
        Assert.Contains("future", answer.Rejected[1].Reason);
        Assert.Contains("accountId", answer.Rejected[2].Reason);
        await Eventually.Until(async () => await app.DistinctEventsOfUser(user) == 997, Landing, "997 events in ClickHouse");
    }

    [Fact]
    public async Task The_same_events_posted_twice_and_repeated_within_a_batch_are_counted_once()
    {
        var user = TestData.Id("u");
        var events = Enumerable.Range(0, 50).Select(i => EventsApp.Event($"{user}-{i}", user)).ToList();
        var withRepeat = events.Append(events[0]).ToList();

        var first = await EventsApp.PostOkAsync(app.Client, withRepeat);
        Assert.Equal(51, first.Accepted);
        await Eventually.Until(async () => await app.DistinctEventsOfUser(user) == 50, Landing, "first post landed");
        Assert.Equal(50, await app.RowsOfUser(user));   // the in-batch repeat was never written

        await EventsApp.PostOkAsync(app.Client, events);
        await app.DrainedAsync(user, Landing);   // raw rows may already be merged, so wait on the topic instead
        Assert.Equal(50, await app.DistinctEventsOfUser(user));
        // FINAL collapses at read time what background merges have not reached yet.
        Assert.Equal("50", await app.ClickHouseSql($"SELECT count() FROM {app.ClickHouseDatabase}.behaviour_event FINAL WHERE user_id = '{app.UserHash(user)}'"));
    }

    [Fact]
    public async Task Account_counts_by_type_over_30_days_and_the_latest_events_come_from_ClickHouse()
    {
        var user = TestData.Id("u");
        var account = await app.NewAccountAsync();
        var now = DateTimeOffset.UtcNow;
        var events = new List<object>();
        for (var i = 0; i < 5; i++) events.Add(EventsApp.Event($"{user}-v{i}", user, "page_view", account, at: now.AddDays(-i)));
        for (var i = 0; i < 3; i++) events.Add(EventsApp.Event($"{user}-d{i}", user, "download", account, at: now.AddHours(-i)));
        events.Add(EventsApp.Event($"{user}-old", user, "page_view", account, at: now.AddDays(-45)));
        events.Add(EventsApp.Event($"{user}-other", user, "page_view", Guid.NewGuid()));

        await EventsApp.PostOkAsync(app.Client, events);
        await EventsApp.PostOkAsync(app.Client, events.Take(4));   // repeats must not inflate the counts
        await app.DrainedAsync(user, Landing);
        Assert.Equal(10, await app.DistinctEventsOfUser(user));

        var queries = app.Services.GetRequiredService<BehaviourQueries>();
        var counts = await queries.CountsByTypeAsync(BehaviourSubject.Account, account);
        Assert.NotNull(counts);
        Assert.Equal(new Dictionary<string, long> { ["download"] = 3, ["page_view"] = 5 }, counts);

        var latest = await queries.LatestAsync(BehaviourSubject.Account, account, limit: 4);
        Assert.NotNull(latest);
        Assert.Equal(4, latest.Count);
        Assert.Equal($"{user}-d0", latest[0].EventId);
        Assert.Equal("/pricing", latest[0].Properties.GetProperty("path").GetString());
    }

    [Fact]
    public async Task Phones_and_emails_never_reach_ClickHouse()
    {
        var user = TestData.Id("u");
        var mobile = TestData.Mobile();
        var email = TestData.Email();
        await EventsApp.PostOkAsync(app.Client, [EventsApp.Event($"{user}-1", user, "form_submit",
            properties: new { mobile, contactEmail = email, note = $"call {mobile}", nested = new { x = email }, plan = "pro" })]);
        await Eventually.Until(async () => await app.RowsOfUser(user) == 1, Landing, "event landed");

        var stored = await app.ClickHouseSql($"SELECT properties FROM {app.ClickHouseDatabase}.behaviour_event WHERE user_id = '{app.UserHash(user)}'");
        Assert.DoesNotContain(mobile, stored);
        Assert.DoesNotContain(email, stored);
        Assert.Contains("pro", stored);
    }

    [Fact]
    public async Task Events_naming_a_known_contact_or_account_become_touchpoints_once_and_ask_for_summaries()
    {
        var user = TestData.Id("u");
        var account = await app.NewAccountAsync();
        var (contact, _) = await app.NewContactAsync(withWeCom: false);
        var unknown = Guid.NewGuid();
        var events = new List<object>
        {
            EventsApp.Event($"{user}-1", user, "page_view", account, contact),
            EventsApp.Event($"{user}-2", user, "download", account),
            EventsApp.Event($"{user}-3", user, "download", unknown),   // no such account: no touchpoint
            EventsApp.Event($"{user}-4", user),
        };

        await EventsApp.PostOkAsync(app.Client, events);
        await EventsApp.PostOkAsync(app.Client, events);

        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        var touchpoints = (await conn.QueryAsync<(Guid Id, Guid? ContactId, Guid? AccountId, string Type, string Channel)>(
            "select touchpoint_id, contact_id, account_id, touchpoint_type, channel_id from touchpoint where account_id = @account or contact_id = @contact or account_id = @unknown order by touchpoint_type desc",
            new { account, contact, unknown })).ToList();
        Assert.Equal(2, touchpoints.Count);
        Assert.Equal(NameBasedGuid.Create(NameBasedGuid.EventNamespace, $"{user}-1"), touchpoints[0].Id);
        Assert.Equal((contact, account, "page_view", "sdk"), (touchpoints[0].ContactId, touchpoints[0].AccountId, touchpoints[0].Type, touchpoints[0].Channel));
        Assert.Equal("download", touchpoints[1].Type);

        // The summary triggers went out with the touchpoints: this host's consumer computes both summaries (the
        // messages themselves may already be consumed, so the outcome is what is checked, not the queue).
        await Eventually.Until(async () => await conn.ExecuteScalarAsync<bool>("""
            select exists (select 1 from contact_summary where contact_id = @contact and total_touchpoints = 1)
               and exists (select 1 from account_summary where account_id = @account)
            """, new { account, contact }), TimeSpan.FromSeconds(20), "the summaries the events asked for");
    }

    [Fact]
    public async Task More_than_1000_events_is_422()
    {
        var user = TestData.Id("u");
        using var response = await EventsApp.PostAsync(app.Client, Enumerable.Range(0, 1001).Select(i => EventsApp.Event($"{user}-{i}", user)));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Theory]
    [InlineData("{\"events\": [", HttpStatusCode.BadRequest)]
    [InlineData("not json", HttpStatusCode.BadRequest)]
    [InlineData("{}", HttpStatusCode.UnprocessableEntity)]
    [InlineData("{\"events\": {}}", HttpStatusCode.UnprocessableEntity)]
    [InlineData("[]", HttpStatusCode.UnprocessableEntity)]
    public async Task Malformed_or_shapeless_bodies_are_refused(string body, HttpStatusCode expected)
    {
        using var response = await app.Client.PostAsync("/api/events", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(expected, response.StatusCode);
    }

    [Fact]
    public async Task A_body_that_is_not_json_by_type_is_415()
    {
        using var response = await app.Client.PostAsync("/api/events", new StringContent("{\"events\":[]}", Encoding.UTF8, "text/plain"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
    }

    [Fact]
    public async Task An_oversize_body_is_413()
    {
        var body = "{\"events\":[{\"eventId\":\"x\",\"properties\":{\"pad\":\"" + new string('a', 2 * 1024 * 1024) + "\"}}]}";
        using var response = await app.Client.PostAsync("/api/events", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }
}
