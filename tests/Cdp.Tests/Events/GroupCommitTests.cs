using Cdp.Shared.Customers;
using Cdp.Shared.Events;
using Cdp.Shared.Privacy;
using Cdp.Tests.Support;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Cdp.Tests.Events;

/// <summary>
/// Group commit of POST /api/events: requests queued together are written by one batch and one commit. A fresh
/// <see cref="AcceptEvents"/> with one committer, whose queue is filled before it starts, commits them as one batch.
/// </summary>
public sealed class GroupCommitTests(EventsApp app) : IClassFixture<EventsApp>
{
    static readonly TimeSpan Landing = TimeSpan.FromSeconds(30);

    AcceptEvents NewAcceptEvents() => new(
        app.Services.GetRequiredService<NpgsqlDataSource>(), app.Services.GetRequiredService<IOptions<EventsOptions>>(),
        app.Services.GetRequiredService<CustomerViewCache>(), app.Services.GetRequiredService<SubjectHash>(), TimeProvider.System,
        committerCount: 1);

    static List<ValidEvent> Request(string user, int count, Guid? account) => [.. Enumerable.Range(0, count).Select(i => new ValidEvent(
        $"{user}-{i}", user, null, null, i < 5 ? account : null, i % 2 == 0 ? "page_view" : "click",
        DateTimeOffset.UtcNow.AddMinutes(-i), """{"path":"/pricing"}"""))];

    [Fact]
    public async Task Requests_committed_together_each_land_exactly_once()
    {
        var accept = NewAcceptEvents();
        var account = await app.NewAccountAsync();
        var users = Enumerable.Range(0, 12).Select(_ => TestData.Id("gc")).ToList();
        var now = DateTimeOffset.UtcNow;

        await Task.WhenAll(accept.Queue(users.Select(u => accept.Prepare(Request(u, 40, account), now))));

        foreach (var user in users)
        {
            await Eventually.Until(async () => await app.DistinctEventsOfUser(user) == 40, Landing, $"40 events of {user} in ClickHouse");
            await app.DrainedAsync(user, Landing);
            Assert.Equal(40, await app.RowsOfUser(user));   // each request's rows once: none lost, none doubled
        }
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        // Five events of each request named the account: one touchpoint each.
        Assert.Equal(60, await conn.ExecuteScalarAsync<long>("select count(*) from touchpoint where account_id = @account", new { account }));
        await Eventually.Until(async () => await conn.ExecuteScalarAsync<bool>(
            "select exists (select 1 from account_summary where account_id = @account)", new { account }),
            Landing, "the account's summary, asked for by the batch");
    }

    [Fact]
    public async Task A_failed_batch_fails_each_of_its_requests_and_stores_none_of_them()
    {
        var account = await app.NewAccountAsync();
        var users = Enumerable.Range(0, 3).Select(_ => TestData.Id("gcf")).ToList();
        var now = DateTimeOffset.UtcNow;
        {
            var accept = NewAcceptEvents();
            var good = users.Select(u => accept.Prepare(Request(u, 10, account), now)).ToList();
            // A payload Postgres refuses (not JSON) stands for any statement of the batch failing.
            var poisoned = good[1] with { Payload = "[{\"event_id\": "u8.ToArray() };
            var done = accept.Queue([good[0], poisoned, good[2]]);

            foreach (var request in done) await Assert.ThrowsAsync<PostgresException>(() => request);
        }

        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        Assert.Equal(0, await conn.ExecuteScalarAsync<long>("select count(*) from touchpoint where account_id = @account", new { account }));
        Assert.Equal(0, await conn.ExecuteScalarAsync<long>(
            "select count(*) from topic_message where topic = 'event-stream' and message_key = any(@keys)",
            new { keys = users.Select(app.UserHash).ToArray() }));

        // The callers were told it failed; their resends land once.
        var again = NewAcceptEvents();
        await Task.WhenAll(again.Queue(users.Select(u => again.Prepare(Request(u, 10, account), now))));
        foreach (var user in users)
        {
            await Eventually.Until(async () => await app.DistinctEventsOfUser(user) == 10, Landing, $"the resent events of {user}");
            await app.DrainedAsync(user, Landing);
            Assert.Equal(10, await app.RowsOfUser(user));
        }
        Assert.Equal(15, await conn.ExecuteScalarAsync<long>("select count(*) from touchpoint where account_id = @account", new { account }));
    }
}
