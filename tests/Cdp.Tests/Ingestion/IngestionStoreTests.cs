using Cdp.Shared.Ingestion;
using Cdp.Tests.Support;
using Dapper;
using Npgsql;

namespace Cdp.Tests.Ingestion;

/// <summary>Group commit keeps the one-push semantics: durable before the answer, one receipt + one message, resends mapped.</summary>
public sealed class IngestionStoreTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    [Fact]
    public async Task Concurrent_resends_of_one_push_get_one_receipt_one_message_and_the_same_id()
    {
        var store = new IngestionStore(database.DataSource);
        var source = new SourceEnvelope(TestData.Id("crm"), "2026-11-22T00:00:00Z");
        var hash = Guid.NewGuid().ToString("N");

        var answers = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => store.AcceptAsync("crm", source, hash, "{}", default)));

        var id = Assert.Single(answers.Select(a => a.IngestionId).Distinct());
        Assert.Equal(49, answers.Count(a => a.Duplicate));
        await using var conn = await database.DataSource.OpenConnectionAsync();
        Assert.Equal(1, await conn.QuerySingleAsync<int>("select count(*)::int from ingestion_receipt where source_id = @SourceId", source));
        Assert.Equal(1, await conn.QuerySingleAsync<int>("select count(*)::int from topic_message where payload->>'ingestionId' = @id", new { id = id.ToString() }));
    }

    [Fact]
    public async Task Concurrent_distinct_pushes_are_all_stored_with_their_messages_in_arrival_order_per_record()
    {
        var store = new IngestionStore(database.DataSource);
        var record = TestData.Id("crm");
        var versions = Enumerable.Range(0, 20).Select(i => new SourceEnvelope(record, $"v{i:D2}")).ToList();
        var others = Enumerable.Range(0, 200).Select(_ => new SourceEnvelope(TestData.Id("crm"), "v1")).ToList();

        var ordered = new List<Guid>();
        var crowd = Task.WhenAll(others.Select(s => store.AcceptAsync("crm", s, Guid.NewGuid().ToString("N"), "{}", default)));
        foreach (var v in versions) ordered.Add((await store.AcceptAsync("crm", v, Guid.NewGuid().ToString("N"), "{}", default)).IngestionId);
        var answers = await crowd;

        Assert.All(answers, a => Assert.False(a.Duplicate));
        await using var conn = await database.DataSource.OpenConnectionAsync();
        var queued = (await conn.QueryAsync<Guid>(
            "select (payload->>'ingestionId')::uuid from topic_message where message_key = @key order by message_id", new { key = $"crm:{record}" })).ToList();
        Assert.Equal(ordered, queued);
        Assert.Equal(200, await conn.QuerySingleAsync<int>(
            "select count(*)::int from ingestion_receipt where ingestion_id = any(@ids)", new { ids = answers.Select(a => a.IngestionId).ToArray() }));
    }

    [Fact]
    public async Task Database_down_fails_the_push_instead_of_answering_accepted()
    {
        var unreachable = new NpgsqlConnectionStringBuilder(database.ConnectionString) { Port = 1, Timeout = 2 }.ToString();
        await using var db = NpgsqlDataSource.Create(unreachable);
        var store = new IngestionStore(db);

        await Assert.ThrowsAnyAsync<NpgsqlException>(() => store.AcceptAsync("crm", null, Guid.NewGuid().ToString("N"), "{}", default));
    }
}
