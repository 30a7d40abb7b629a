using Cdp.Shared.Access;
using Cdp.Tests.Support;
using Dapper;
using Npgsql;

namespace Cdp.Tests.Access;

/// <summary>
/// Reads' audit rows are group-committed (AuditLog.WriteReadAsync): concurrent reads share one multi-row insert. A read
/// may only be answered once its own row is committed, so each row must be written exactly once, and a group that fails
/// must fail every read in it (none of its rows stays).
/// </summary>
public sealed class AuditGroupCommitTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    static readonly TimeSpan Slack = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Concurrent_reads_each_get_their_row_committed_exactly_once_in_shared_commits()
    {
        var audit = new AuditLog(db.DataSource);
        var actor = new AuditActor("staff:" + TestData.Id("auditor"), TestData.Id("req"), "10.0.0.7", new string('a', 400));
        var ids = Enumerable.Range(0, 60).Select(_ => Guid.NewGuid().ToString()).ToList();

        await Task.WhenAll(ids.Select(id => audit.WriteReadAsync(actor.Did(PiiReads.ReadAction, "contact", id, new { masked = true }), CancellationToken.None)))
            .WaitAsync(Slack);

        await using var conn = await db.DataSource.OpenConnectionAsync();
        var rows = (await conn.QueryAsync<(string EntityId, string Actor, string Action, string EntityType, string RequestId, string Ip, string UserAgent, string Detail)>("""
            select entity_id, actor, action, entity_type, request_id, ip, user_agent, detail::text from audit_log where entity_id = any(@ids)
            """, new { ids })).ToList();
        Assert.Equal(ids.Order(), rows.Select(r => r.EntityId).Order());   // each once
        Assert.All(rows, r =>
        {
            Assert.Equal((actor.Actor, PiiReads.ReadAction, "contact", actor.RequestId, actor.Ip), (r.Actor, r.Action, r.EntityType, r.RequestId, r.Ip));
            Assert.Equal(new string('a', 300), r.UserAgent);
            Assert.Equal("""{"masked": true}""", r.Detail);
        });
        Assert.InRange(audit.ReadCommits, 1, ids.Count - 1);   // shared: fewer commits than reads
    }

    [Fact]
    public async Task A_group_that_fails_fails_each_of_its_reads_and_leaves_none_of_their_rows()
    {
        var audit = new AuditLog(db.DataSource);
        var actor = new AuditActor("staff:" + TestData.Id("auditor"), null, null, null);
        // Postgres refuses a NUL in text: the group holding that row fails as a whole.
        var poison = new AuditActor("staff:bad\0actor", null, null, null);
        var ids = Enumerable.Range(0, 30).Select(_ => Guid.NewGuid().ToString()).ToList();
        var writes = ids.Select((id, i) => (id, write: audit.WriteReadAsync((i == 0 ? poison : actor).Did(PiiReads.ReadAction, "contact", id, new { masked = true }), CancellationToken.None))).ToList();
        try { await Task.WhenAll(writes.Select(w => w.write)).WaitAsync(Slack); } catch (PostgresException) { }

        await using var conn = await db.DataSource.OpenConnectionAsync();
        var stored = (await conn.QueryAsync<string>("select entity_id from audit_log where entity_id = any(@ids)", new { ids })).ToList();
        Assert.IsType<PostgresException>(writes[0].write.Exception?.InnerException);
        // Answered exactly when committed: a read that succeeded has its row once, one that failed has none.
        foreach (var (id, write) in writes)
            Assert.Equal(write.IsCompletedSuccessfully ? 1 : 0, stored.Count(s => s == id));
        Assert.Equal(writes.Count(w => w.write.IsCompletedSuccessfully), stored.Count);

        // The writer is not stuck after a failed group.
        var after = Guid.NewGuid().ToString();
        await audit.WriteReadAsync(actor.Did(PiiReads.ReadAction, "contact", after, new { masked = false }), CancellationToken.None).WaitAsync(Slack);
        Assert.Equal(1, await conn.ExecuteScalarAsync<int>("select count(*) from audit_log where entity_id = @after", new { after }));
    }

    [Fact]
    public async Task The_asynchronous_commit_of_a_group_does_not_stay_on_its_pooled_connection()
    {
        // One pooled connection: the group's insert and the check below run on the same session.
        await using var single = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(db.ConnectionString) { MaxPoolSize = 1 }.ToString());
        var audit = new AuditLog(single);
        var id = Guid.NewGuid().ToString();
        await audit.WriteReadAsync(new AuditActor("staff:" + TestData.Id("auditor"), null, null, null).Did(PiiReads.ReadAction, "lead", id, new { masked = true }), CancellationToken.None)
            .WaitAsync(Slack);
        await using var conn = await single.OpenConnectionAsync();
        Assert.Equal(1, await conn.ExecuteScalarAsync<int>("select count(*) from audit_log where entity_id = @id", new { id }));
        Assert.Equal("on", await conn.ExecuteScalarAsync<string>("select current_setting('synchronous_commit')"));
    }

    [Fact]
    public async Task With_the_database_unreachable_every_waiting_read_fails()
    {
        await using var unreachable = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(db.ConnectionString) { Port = 1, Timeout = 2 }.ToString());
        var audit = new AuditLog(unreachable);
        var actor = new AuditActor("staff:" + TestData.Id("auditor"), null, null, null);
        var writes = Enumerable.Range(0, 10)
            .Select(_ => audit.WriteReadAsync(actor.Did(PiiReads.ReadAction, "contact", Guid.NewGuid().ToString(), new { masked = true }), CancellationToken.None))
            .ToList();
        foreach (var write in writes) await Assert.ThrowsAnyAsync<Exception>(() => write.WaitAsync(Slack));
        Assert.All(writes, w => Assert.True(w.IsFaulted));
    }
}
