using Cdp.Shared;
using Cdp.Shared.Events;
using Microsoft.Extensions.DependencyInjection;
using System.Text.Json;

namespace Cdp.Tests.Events;

/// <summary>
/// The contact- and lead-ordered copies of the events (ClickHouseHttp.OrderedCopies): rows stored before their views
/// existed are backfilled once, later rows arrive through the views, and the counts read from them answer as the
/// events table does (a repeated event counts once).
/// </summary>
public sealed class OrderedCopiesTests(OrderedCopiesTests.Backend app) : IClassFixture<OrderedCopiesTests.Backend>
{
    public sealed class Backend : EventsApp
    {
        protected override bool StartsHost => false;
    }

    [Fact]
    public async Task Events_stored_before_the_copies_existed_are_backfilled_and_later_ones_follow_through_the_views()
    {
        // A database as an earlier version left it: the events table only.
        await app.ClickHouseSql($"CREATE DATABASE IF NOT EXISTS {app.ClickHouseDatabase}");
        await app.ClickHouseSql(ClickHouseHttp.CreateTableSqlFor($"{app.ClickHouseDatabase}.{ClickHouseHttp.Table}"));
        var (account, contact, lead) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        var now = DateTimeOffset.UtcNow;
        string Row(string id, string type, Guid? contactId, Guid? leadId) => JsonSerializer.Serialize(EventRow.From(
            new ValidEvent(id, "u_" + new string('a', 32), contactId, leadId, account, type, now.AddMinutes(-5), "{}"), now), CdpJson.Options);
        async Task InsertAsync(params string[] rows) => await app.ClickHouseSql(
            $"INSERT INTO {app.ClickHouseDatabase}.{ClickHouseHttp.Table} FORMAT JSONEachRow\n" + string.Join("\n", rows));
        await InsertAsync(Row("e1", "page_view", contact, null), Row("e1", "page_view", contact, null),   // a repeat
            Row("e2", "click", contact, lead), Row("e3", "page_view", null, lead));

        var host = app.StartHost(new Dictionary<string, string?> { ["Topics:ConsumersEnabled"] = "false" });
        await host.Services.GetRequiredService<ClickHouseHttp>().EnsureSchemaAsync(CancellationToken.None);
        await host.Services.GetRequiredService<ClickHouseHttp>().EnsureSchemaAsync(CancellationToken.None);   // again: no second backfill needed
        var queries = host.Services.GetRequiredService<BehaviourQueries>();

        Assert.Equal(new Dictionary<string, long> { ["click"] = 1, ["page_view"] = 1 }, await queries.CountsByTypeAsync(BehaviourSubject.Contact, contact));
        Assert.Equal(new Dictionary<string, long> { ["click"] = 1, ["page_view"] = 1 }, await queries.CountsByTypeAsync(BehaviourSubject.Lead, lead));

        await InsertAsync(Row("e4", "download", contact, null), Row("e2", "click", contact, lead));
        Assert.Equal(new Dictionary<string, long> { ["click"] = 1, ["download"] = 1, ["page_view"] = 1 },
            await queries.CountsByTypeAsync(BehaviourSubject.Contact, contact));
        Assert.Equal(new Dictionary<string, long> { ["click"] = 1, ["download"] = 1, ["page_view"] = 2 },
            await queries.CountsByTypeAsync(BehaviourSubject.Account, account));
        // Rows naming no contact are not copied.
        Assert.Equal("0", await app.ClickHouseSql(
            $"SELECT count() FROM {app.ClickHouseDatabase}.{ClickHouseHttp.OrderedCopies[0].Table} WHERE event_id = 'e3' OR contact_id = toUUID('{Guid.Empty}')"));
        await app.StopHostAsync(host);
    }
}
