using System.Text;
using System.Text.Json;
using Cdp.Shared;
using Cdp.Shared.Events;
using Cdp.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Cdp.Tests.Events;

/// <summary>
/// The 360's count loader: concurrent callers' customers answered by one ClickHouse query over the daily counts. Each
/// caller must get its own customer's counts (another subject's with the same id, or a neighbour in the list, never
/// leaks in), and a failed query must reach every caller of its batch as "no counts" (the 360 then says partial).
/// </summary>
public sealed class CountLoaderTests(EventsApp app) : IClassFixture<EventsApp>
{
    static readonly TimeSpan Slack = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Several_customers_in_one_batch_each_get_their_own_counts()
    {
        var (accountA, accountB, contact, quiet) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        var now = DateTimeOffset.UtcNow;
        var n = 0;
        EventRow Event(string type, Guid? account, Guid? contactId, DateTimeOffset at) =>
            EventRow.From(new ValidEvent($"cl-{accountA:N}-{n++}", "u-" + accountA.ToString("N"), contactId, null, account, type, at, "{}"), now);
        await InsertAsync(
            Event("page_view", accountA, contact, now.AddMinutes(-5)),
            Event("page_view", accountA, contact, now.AddDays(-3)),
            Event("download", accountA, null, now.AddHours(-2)),
            Event("page_view", accountA, null, now.AddDays(-45)),   // outside the 30 days
            Event("click", accountB, null, now.AddMinutes(-1)),
            // The contact's id used as an account's too: its account counts must not mix with its contact counts.
            Event("video_play", contact, null, now.AddMinutes(-7)));
        await Eventually.Until(async () => await app.ClickHouseSql(
            $"SELECT count() FROM {app.ClickHouseDatabase}.{ClickHouseHttp.DailyTable} WHERE subject_id IN (toUUID('{accountA}'), toUUID('{accountB}'), toUUID('{contact}'))") != "0",
            Slack, "the daily counts hold the events");

        var queries = app.Services.GetRequiredService<BehaviourQueries>();
        BehaviourQueries.CountRequest Ask(string subject, Guid id) => new(subject, id, 30);
        var asked = new[]
        {
            Ask("account", accountA), Ask("contact", contact), Ask("account", accountB), Ask("account", contact),
            Ask("lead", quiet), Ask("account", accountA),   // the same customer twice in one batch: both callers answered
        };
        var answers = await queries.CountBatchAsync(asked);

        Assert.Equal(asked.Length, answers.Count);
        Assert.Equal(new Dictionary<string, long> { ["download"] = 1, ["page_view"] = 2 }, answers[0]);
        Assert.Equal(new Dictionary<string, long> { ["page_view"] = 2 }, answers[1]);
        Assert.Equal(new Dictionary<string, long> { ["click"] = 1 }, answers[2]);
        Assert.Equal(new Dictionary<string, long> { ["video_play"] = 1 }, answers[3]);
        Assert.Equal(new Dictionary<string, long>(), answers[4]);
        Assert.Equal(answers[0], answers[5]);

        // Through the loader, concurrent callers share queries and still each get their own answer.
        var before = queries.CountQueries;
        var together = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => queries.CountsByTypeAsync(
            (i % 2) == 0 ? BehaviourSubject.Account : BehaviourSubject.Contact, (i % 2) == 0 ? accountA : contact)));
        for (var i = 0; i < together.Length; i++) Assert.Equal((i % 2) == 0 ? answers[0] : answers[1], together[i]);
        Assert.InRange(queries.CountQueries - before, 1, 40);
    }

    [Fact]
    public async Task A_failed_query_answers_no_counts_to_every_caller_of_its_batch()
    {
        var down = app.StartHost(new Dictionary<string, string?>
        {
            ["ConnectionStrings:ClickHouse"] = "http://127.0.0.1:1",
            ["Topics:ConsumersEnabled"] = "false",
        });
        try
        {
            var queries = down.Services.GetRequiredService<BehaviourQueries>();
            var answers = await queries.CountBatchAsync([new("account", Guid.NewGuid(), 30), new("contact", Guid.NewGuid(), 30), new("lead", Guid.NewGuid(), 30)]);
            Assert.Equal([null, null, null], answers);
            var together = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => queries.CountsByTypeAsync(BehaviourSubject.Account, Guid.NewGuid())));
            Assert.All(together, Assert.Null);
        }
        finally
        {
            await app.StopHostAsync(down);
        }
    }

    async Task InsertAsync(params EventRow[] rows)
    {
        // The host creates the tables and their views in this order on start; an insert before the last view exists fails.
        var last = ClickHouseHttp.SchemaSqlFor(app.ClickHouseDatabase).Last().View;
        await Eventually.Until(async () => await app.ClickHouseSql($"EXISTS TABLE {app.ClickHouseDatabase}.{last}") == "1",
            Slack, "the host created the ClickHouse tables and views");
        var body = string.Join('\n', rows.Select(r => JsonSerializer.Serialize(r, CdpJson.Options)));
        using var response = await app.ClickHouse.PostAsync(
            $"?query={Uri.EscapeDataString($"INSERT INTO {app.ClickHouseDatabase}.{ClickHouseHttp.Table} FORMAT JSONEachRow")}",
            new StringContent(body, Encoding.UTF8));
        response.EnsureSuccessStatusCode();
    }
}
