using Cdp.Shared.Events;
using Cdp.Shared.Messaging;
using Microsoft.Extensions.DependencyInjection;
using Cdp.Tests.Support;
using Dapper;

namespace Cdp.Tests.Events;

/// <summary>ClickHouse down must not lose or refuse events: they wait in the topic and the writer keeps retrying.</summary>
public sealed class ClickHouseOutageTests(ClickHouseOutageTests.Backend app) : IClassFixture<ClickHouseOutageTests.Backend>
{
    public sealed class Backend : EventsApp
    {
        protected override bool StartsHost => false;
    }

    [Fact]
    public async Task With_ClickHouse_down_events_are_still_accepted_retried_and_written_once_it_is_back()
    {
        var user = TestData.Id("u");
        // Only this host consumes, and its ClickHouse is a closed port.
        var down = app.StartHost(new Dictionary<string, string?> { ["ConnectionStrings:ClickHouse"] = "http://127.0.0.1:1" });
        using var client = CdpApp.AsAdmin(down.CreateClient());
        var key = app.UserHash(user);   // one user's request: its one event-stream message is keyed by the user's hash

        var answer = await EventsApp.PostOkAsync(client, Enumerable.Range(0, 20).Select(i => EventsApp.Event($"{user}-{i}", user)));
        Assert.Equal(20, answer.Accepted);

        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        await Eventually.Until(async () => await conn.ExecuteScalarAsync<int>(
            "select coalesce(sum(item_count), 0)::int from topic_message where topic = @topic and message_key = @user and attempts >= 2 and status = 'pending' and last_error is not null",
            new { topic = Topics.EventStream, user = key }) == 20, TimeSpan.FromSeconds(20), "the writer retried the batch");
        Assert.True(await app.DistinctEventsOfUser(user) <= 0);

        await app.StopHostAsync(down);
        app.StartHost();   // ClickHouse reachable again
        await Eventually.Until(async () => await app.DistinctEventsOfUser(user) == 20, TimeSpan.FromSeconds(30), "the backlog drained");
        await Eventually.Until(async () => await conn.ExecuteScalarAsync<int>(
            "select count(*) from topic_message where topic = @topic and message_key = @user", new { topic = Topics.EventStream, user = key }) == 0,
            TimeSpan.FromSeconds(10), "the written messages were deleted");
    }

    [Fact]
    public async Task Behaviour_queries_answer_null_when_ClickHouse_is_down_so_the_360_can_say_partial()
    {
        var host = app.StartHost(new Dictionary<string, string?>
        {
            ["ConnectionStrings:ClickHouse"] = "http://127.0.0.1:1",
            ["Topics:ConsumersEnabled"] = "false",
        });
        var queries = host.Services.GetRequiredService<BehaviourQueries>();
        Assert.Null(await queries.CountsByTypeAsync(BehaviourSubject.Account, Guid.NewGuid()));
        Assert.Null(await queries.LatestAsync(BehaviourSubject.Contact, Guid.NewGuid()));
        await app.StopHostAsync(host);
    }
}
