using System.Text.Json;
using Cdp.Shared;
using Cdp.Shared.Messaging;
using Cdp.Shared.Summaries;
using Cdp.Tests.Support;
using Dapper;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Cdp.Tests.Summaries;

/// <summary>
/// The set-based round (<see cref="SummaryCalculationConsumer.HandleBatchAsync"/>) against the one-by-one computation,
/// and the summary rows' integrity without their foreign key (migration 0022). Real Postgres and Redis.
/// </summary>
public sealed class SummaryBatchTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    SummaryHistory History => new(database.DataSource);

    SummaryCalculationConsumer Consumer()
    {
        var redis = TestRedis.Connect();
        return new SummaryCalculationConsumer(
            new SummaryCalculator(database.DataSource, TimeProvider.System),
            new SummaryLock(redis, NullLogger<SummaryLock>.Instance),
            TestRedis.ViewCache(redis),
            NullLogger<SummaryCalculationConsumer>.Instance);
    }

    [Fact]
    public async Task A_round_computed_together_writes_the_same_summaries_scores_and_tags_as_one_by_one()
    {
        var h = History;
        var now = DateTimeOffset.UtcNow;
        var entities = new List<(string Type, Guid Id)>();
        // Accounts of different shapes: shared contacts, primary-only contacts, opportunities open/won/lost, old and new touchpoints.
        var shared = await h.ContactAsync(null);
        for (var a = 0; a < 6; a++)
        {
            var accountId = await h.AccountAsync("测试批量" + TestData.CompanyWord() + "有限公司");
            entities.Add(("account", accountId));
            for (var c = 0; c < a % 3 + 1; c++)
            {
                var contactId = await h.ContactAsync(accountId, primaryOnly: c == 1);
                entities.Add(("contact", contactId));
                for (var t = 0; t < (a + c) % 4; t++)
                    await h.TouchpointAsync(now.AddDays(-(t * 11 + c * 3 + 1)), t % 2 == 0 ? "form_submit" : "email_open", contactId: contactId);
            }
            await using (var conn = await database.DataSource.OpenConnectionAsync())
                if (a % 2 == 0) await conn.ExecuteAsync("insert into account_contact_relation (account_id, contact_id) values (@accountId, @shared)", new { accountId, shared });
            if (a % 3 != 2) await h.OpportunityAsync(accountId, 1000m * (a + 1), "closed_won");
            if (a % 2 == 1) await h.OpportunityAsync(accountId, 333.33m, "closed_lost");
            if (a == 4) await h.OpportunityAsync(accountId, 50m, "proposal");
            await h.TouchpointAsync(now.AddDays(-(a * 25 + 2)), accountId: accountId);
        }
        entities.Add(("contact", shared));
        // Leads: complete or not, young or old, with forms (high intent), other touchpoints, none.
        for (var l = 0; l < 6; l++)
        {
            var leadId = await h.LeadAsync(channel: l % 3 == 0 ? "crm" : "wecom", complete: l % 2 == 0, createdAt: now.AddDays(-(l * 17 + 3)));
            entities.Add(("lead", leadId));
            for (var t = 0; t < l; t++)
                await h.TouchpointAsync(now.AddDays(-(t * 5 + 1)), t < 3 ? "form_submit" : "page_view", leadId: leadId);
        }

        var consumer = Consumer();
        foreach (var (type, id) in entities) await consumer.RecalculateAsync(new SummaryRecalculation(type, id, "one"), default);
        var oneByOne = await SnapshotAsync(entities);
        await ForgetAsync(entities);
        Assert.Empty(await SnapshotAsync(entities));

        // One round, as the topic consumer hands it over: a message per key (and one for an entity that is gone).
        var messages = entities.Append(("lead", Guid.NewGuid())).Select((e, i) => new TopicMessage(
            i + 1, Topics.SummaryCalculation, $"{e.Item1}:{e.Item2}",
            JsonSerializer.Serialize(new SummaryRecalculation(e.Item1, e.Item2, "round"), CdpJson.Options), 0, now)).ToList();
        var errors = await consumer.HandleBatchAsync(messages, default);
        Assert.All(errors, Assert.Null);
        var together = await SnapshotAsync(entities);

        // Every entity summarised, with some non-trivial values: the comparison below is not between two empty sets.
        Assert.Equal(entities.Count, together.Count(r => r.StartsWith("summary", StringComparison.Ordinal)));
        Assert.Contains(together, r => r.StartsWith("tag|lead", StringComparison.Ordinal));
        Assert.Contains(together, r => r.StartsWith("tag|account", StringComparison.Ordinal));
        Assert.Contains(together, r => r.StartsWith("score", StringComparison.Ordinal));
        Assert.Equal(oneByOne, together);
    }

    [Fact]
    public async Task A_summary_does_not_wait_for_a_resolution_holding_its_entity_and_a_deleted_entity_takes_its_summary_along()
    {
        var h = History;
        var accountId = await h.AccountAsync("测试锁" + TestData.CompanyWord() + "有限公司");
        var contactId = await h.ContactAsync(accountId);
        await h.TouchpointAsync(DateTimeOffset.UtcNow.AddDays(-1), contactId: contactId);
        var leadId = await h.LeadAsync();

        // As identity resolution does for the rows it matched, for the length of its batch.
        await using (var resolution = await database.DataSource.OpenConnectionAsync())
        await using (var tx = await resolution.BeginTransactionAsync())
        {
            await resolution.ExecuteAsync("""
                select 1 from account where account_id = @accountId for update;
                select 1 from contact where contact_id = @contactId for update;
                select 1 from lead where lead_id = @leadId for update
                """, new { accountId, contactId, leadId }, tx);
            var computing = Consumer().RecalculateManyAsync(
                [new SummaryRecalculation("account", accountId, "test"), new SummaryRecalculation("contact", contactId, "test"),
                 new SummaryRecalculation("lead", leadId, "test")], default);
            // Generous: with the foreign key's FOR KEY SHARE this never finishes while the resolution holds its rows.
            Assert.Same(computing, await Task.WhenAny(computing, Task.Delay(TimeSpan.FromSeconds(60))));
            await computing;
            await tx.RollbackAsync();
        }

        await using var conn = await database.DataSource.OpenConnectionAsync();
        Assert.Equal(1, await conn.QuerySingleAsync<int>("select total_touchpoints from contact_summary where contact_id = @contactId", new { contactId }));
        Assert.Equal(1, await conn.QuerySingleAsync<int>("select total_contacts from account_summary where account_id = @accountId", new { accountId }));
        // The lead's summary is written; its score, on the held row, is queued again for a second later instead of waited for.
        Assert.True(await conn.ExecuteScalarAsync<bool>("select exists (select 1 from lead_summary where lead_id = @leadId)", new { leadId }));
        Assert.Null(await conn.ExecuteScalarAsync<int?>("select lead_score from lead where lead_id = @leadId", new { leadId }));
        Assert.True(await conn.ExecuteScalarAsync<bool>("""
            select exists (select 1 from topic_message where topic = 'summary-calculation' and message_key = @key
                            and payload->>'reason' = 'lead_locked' and available_at > created_at)
            """, new { key = $"lead:{leadId}" }));
        await Consumer().RecalculateAsync(new SummaryRecalculation("lead", leadId, "again"), default);
        Assert.NotNull(await conn.ExecuteScalarAsync<int?>("select lead_score from lead where lead_id = @leadId", new { leadId }));

        await conn.ExecuteAsync("delete from account_contact_relation where contact_id = @contactId; delete from contact where contact_id = @contactId", new { contactId });
        Assert.False(await conn.ExecuteScalarAsync<bool>("select exists (select 1 from contact_summary where contact_id = @contactId)", new { contactId }));
    }

    [Fact]
    public async Task An_entity_being_deleted_is_not_summarised_so_no_summary_outlives_it()
    {
        var h = History;
        var contactId = await h.ContactAsync(null);
        await using var deleting = await database.DataSource.OpenConnectionAsync();
        await using var tx = await deleting.BeginTransactionAsync();
        await deleting.ExecuteAsync("delete from contact where contact_id = @contactId", new { contactId }, tx);

        // The delete holds the entity's advisory lock until it commits: the computation skips the entity, writes nothing.
        Assert.False(await new SummaryCalculator(database.DataSource, TimeProvider.System).CalculateAsync("contact", contactId, default));
        await tx.CommitAsync();

        await using var conn = await database.DataSource.OpenConnectionAsync();
        Assert.False(await conn.ExecuteScalarAsync<bool>("select exists (select 1 from contact_summary where contact_id = @contactId)", new { contactId }));
    }

    /// <summary>Everything a computation writes for the entities, as comparable lines (not ids of rows or times of writing).</summary>
    async Task<List<string>> SnapshotAsync(List<(string Type, Guid Id)> entities)
    {
        Guid[] Of(string type) => [.. entities.Where(e => e.Type == type).Select(e => e.Id)];
        await using var conn = await database.DataSource.OpenConnectionAsync();
        var rows = new List<string>();
        rows.AddRange(await conn.QueryAsync<string>("""
            select concat_ws('|', 'summary', 'account', account_id, total_contacts, total_opportunities, won_opportunities, lost_opportunities,
                             total_revenue, win_rate, health_score, last_activity_at) from account_summary where account_id = any(@ids)
            """, new { ids = Of("account") }));
        rows.AddRange(await conn.QueryAsync<string>("""
            select concat_ws('|', 'summary', 'contact', contact_id, total_touchpoints, email_opens, form_submissions, engagement_score, last_activity_at)
            from contact_summary where contact_id = any(@ids)
            """, new { ids = Of("contact") }));
        rows.AddRange(await conn.QueryAsync<string>("""
            select concat_ws('|', 'summary', 'lead', lead_id, total_touchpoints, total_events, form_submissions, days_in_pipeline, last_activity_at)
            from lead_summary where lead_id = any(@ids)
            """, new { ids = Of("lead") }));
        rows.AddRange(await conn.QueryAsync<string>("""
            select concat_ws('|', 'score', lead_id, lead_score, lead_grade, score_reasons::text) from lead where lead_id = any(@ids) and lead_score is not null
            """, new { ids = Of("lead") }));
        rows.AddRange(await conn.QueryAsync<string>("""
            select concat_ws('|', 'tag', entity_type, entity_id, tag, reason) from computed_tag where entity_id = any(@ids)
            """, new { ids = entities.Select(e => e.Id).ToArray() }));
        rows.Sort(StringComparer.Ordinal);
        return rows;
    }

    async Task ForgetAsync(List<(string Type, Guid Id)> entities)
    {
        var ids = entities.Select(e => e.Id).ToArray();
        await using var conn = await database.DataSource.OpenConnectionAsync();
        await conn.ExecuteAsync("""
            delete from account_summary where account_id = any(@ids);
            delete from contact_summary where contact_id = any(@ids);
            delete from lead_summary where lead_id = any(@ids);
            delete from computed_tag where entity_id = any(@ids);
            update lead set lead_score = null, lead_grade = null, score_reasons = null where lead_id = any(@ids);
            """, new { ids });
    }
}
