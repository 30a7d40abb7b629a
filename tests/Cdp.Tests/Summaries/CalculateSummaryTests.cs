using Cdp.Shared.Storage;
using Cdp.Shared.Summaries;
using Cdp.Shared.Tagging;
using Cdp.Tests.Support;
using Dapper;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cdp.Tests.Summaries;

/// <summary>The summary computation and its Redis lock against real Postgres and Redis (no host).</summary>
public sealed class CalculateSummaryTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    SummaryHistory History => new(database.DataSource);

    SummaryCalculationConsumer Consumer(string redis = "", LogCapture? logs = null, TimeSpan? lockExpiry = null)
    {
        var redisConnection = TestRedis.Connect(redis.Length > 0 ? redis : null);
        return new SummaryCalculationConsumer(
            new SummaryCalculator(database.DataSource, TimeProvider.System),
            new SummaryLock(redisConnection, logs is null ? NullLogger<SummaryLock>.Instance : new Logger<SummaryLock>(new LoggerFactory([logs])))
            {
                LockExpiry = lockExpiry ?? SummaryLock.Expiry,
            },
            TestRedis.ViewCache(redisConnection),
            NullLogger<SummaryCalculationConsumer>.Instance);
    }

    [Fact]
    public async Task Account_summary_counts_contacts_opportunities_revenue_and_win_rate_exactly()
    {
        var h = History;
        var accountId = await h.AccountAsync("测试汇总" + TestData.CompanyWord() + "有限公司");
        var c1 = await h.ContactAsync(accountId);
        await h.ContactAsync(accountId);
        await h.ContactAsync(accountId, primaryOnly: true);
        await h.ContactAsync(null);   // someone else's
        await h.OpportunityAsync(accountId, 1000.50m, "closed_won");
        await h.OpportunityAsync(accountId, 2000m, "closed_won");
        await h.OpportunityAsync(accountId, 500m, "closed_lost");
        await h.OpportunityAsync(accountId, 700m, "proposal");
        await h.TouchpointAsync(DateTimeOffset.UtcNow.AddDays(-40), accountId: accountId);

        await Consumer().RecalculateAsync(new SummaryRecalculation("account", accountId, "test"), default);

        await using var conn = await database.DataSource.OpenConnectionAsync();
        var s = await Summary(conn, accountId);
        Assert.Equal((3, 4, 2, 1, 3000.50m, 0.6667m), (s.Contacts, s.Opportunities, s.Won, s.Lost, s.Revenue, s.WinRate));
        // The last activity is an opportunity just opened/closed: healthy.
        Assert.Equal(100, s.Health);

        // A contact's touchpoint counts for the account's activity, through the contact's re-queue.
        await h.TouchpointAsync(DateTimeOffset.UtcNow.AddMinutes(-1), contactId: c1);
        await Consumer().RecalculateAsync(new SummaryRecalculation("contact", c1, "test"), default);
        Assert.Equal(1, await conn.QuerySingleAsync<int>(
            "select count(*)::int from topic_message where topic = 'summary-calculation' and message_key = @key",
            new { key = $"account:{accountId}" }));
        Assert.Contains(TagRules.Customer, await conn.QueryAsync<string>(
            "select tag from computed_tag where entity_type = 'account' and entity_id = @accountId", new { accountId }));
    }

    [Fact]
    public async Task An_account_without_closed_opportunities_has_no_win_rate_and_old_activity_lowers_health()
    {
        var h = History;
        var accountId = await h.AccountAsync("测试健康" + TestData.CompanyWord() + "有限公司");
        await h.TouchpointAsync(DateTimeOffset.UtcNow.AddDays(-60), accountId: accountId);

        await Consumer().RecalculateAsync(new SummaryRecalculation("account", accountId, "test"), default);

        await using var conn = await database.DataSource.OpenConnectionAsync();
        var s = await Summary(conn, accountId);
        Assert.Null(s.WinRate);
        Assert.Equal(0m, s.Revenue);
        Assert.InRange(s.Health, 49, 51);   // 60 days: 50 on the curve
    }

    [Fact]
    public async Task Contact_summary_counts_touchpoints_forms_and_engagement()
    {
        var h = History;
        var contactId = await h.ContactAsync(null);
        var now = DateTimeOffset.UtcNow;
        await h.TouchpointAsync(now.AddDays(-1), "form_submit", contactId: contactId);
        await h.TouchpointAsync(now.AddDays(-10), "email_open", contactId: contactId);
        await h.TouchpointAsync(now.AddDays(-60), contactId: contactId);
        await h.TouchpointAsync(now.AddDays(-200), contactId: contactId);

        await Consumer().RecalculateAsync(new SummaryRecalculation("contact", contactId, "test"), default);

        await using var conn = await database.DataSource.OpenConnectionAsync();
        var s = await conn.QuerySingleAsync<(int Total, int Opens, int Forms, int Engagement, DateTime Last)>("""
            select total_touchpoints, email_opens, form_submissions, engagement_score, last_activity_at from contact_summary where contact_id = @contactId
            """, new { contactId });
        // 2 in 30 days (20) + 1 in 31..90 (4) + 1 form (10)
        Assert.Equal((4, 1, 1, 34), (s.Total, s.Opens, s.Forms, s.Engagement));
        Assert.Equal(now.AddDays(-1).UtcDateTime, s.Last, TimeSpan.FromMilliseconds(1));
    }

    [Fact]
    public async Task Lead_summary_scores_the_lead_and_tags_high_intent_then_drops_the_tag_when_it_no_longer_holds()
    {
        var h = History;
        var leadId = await h.LeadAsync(createdAt: DateTimeOffset.UtcNow.AddDays(-12));
        await using var conn = await database.DataSource.OpenConnectionAsync();
        await conn.ExecuteAsync("insert into customer_tag (contact_id, tag) values (@c, 'vip')", new { c = await h.ContactAsync(null) });
        for (var i = 0; i < 3; i++) await h.TouchpointAsync(DateTimeOffset.UtcNow.AddDays(-i - 1), "form_submit", leadId: leadId);
        await h.TouchpointAsync(DateTimeOffset.UtcNow.AddDays(-20), leadId: leadId);

        await Consumer().RecalculateAsync(new SummaryRecalculation("lead", leadId, "test"), default);

        var s = await conn.QuerySingleAsync<(int Touchpoints, int Events, int Forms, int Days)>(
            "select total_touchpoints, total_events, form_submissions, days_in_pipeline from lead_summary where lead_id = @leadId", new { leadId });
        Assert.Equal((4, 4, 3, 12), s);
        var lead = await conn.QuerySingleAsync<(int Score, string Grade, string Reasons)>(
            "select lead_score, lead_grade, score_reasons::text from lead where lead_id = @leadId", new { leadId });
        // profile 25 + crm 20 + 3 forms in 7 days 20 + 1 other touchpoint 8..30 days 1 + active within 7 days 15
        Assert.Equal((81, "A"), (lead.Score, lead.Grade));
        Assert.Contains("3 form submission(s) in 7 days", lead.Reasons, StringComparison.Ordinal);
        Assert.Equal([TagRules.HighIntent], await Tags(conn, leadId));

        await conn.ExecuteAsync("update touchpoint set touchpoint_time = touchpoint_time - interval '30 days' where lead_id = @leadId", new { leadId });
        await Consumer().RecalculateAsync(new SummaryRecalculation("lead", leadId, "test"), default);
        Assert.Empty(await Tags(conn, leadId));
        Assert.Equal(1, await conn.QuerySingleAsync<int>("select count(*)::int from customer_tag where tag = 'vip'"));
    }

    [Fact]
    public async Task A_computation_outlasting_the_lock_expiry_keeps_the_lock_and_a_trigger_meanwhile_is_computed_after_it()
    {
        var h = History;
        var contactId = await h.ContactAsync(null);
        // The first computation runs 8 s under a 3 s lock: only the renewal (every 1 s) keeps the lock alive. A 3 s lock
        // leaves a renewal 2 s of slack on a busy machine (a 1.5 s one lost a renewal once in a loaded full run).
        var consumer = Consumer(lockExpiry: TimeSpan.FromSeconds(3));
        var (running, maxRunning, computations) = (0, 0, 0);
        consumer.DuringComputation = async (request, ct) =>
        {
            InterlockedMax(ref maxRunning, Interlocked.Increment(ref running));
            if (Interlocked.Increment(ref computations) == 1) await Task.Delay(TimeSpan.FromSeconds(8), ct);
            Interlocked.Decrement(ref running);
        };

        var slow = Task.Run(() => consumer.RecalculateAsync(new SummaryRecalculation("contact", contactId, "slow"), default));
        await Eventually.Until(() => Volatile.Read(ref computations) == 1, TimeSpan.FromSeconds(5), "the slow computation started");
        await Task.Delay(TimeSpan.FromSeconds(4.5));   // well past the expiry it started with
        await h.TouchpointAsync(DateTimeOffset.UtcNow, contactId: contactId);
        await consumer.RecalculateAsync(new SummaryRecalculation("contact", contactId, "meanwhile"), default);
        Assert.Equal(1, Volatile.Read(ref computations));   // flagged for the holder, not computed beside it
        await slow;

        Assert.Equal((1, 2), (maxRunning, computations));
        await using var conn = await database.DataSource.OpenConnectionAsync();
        Assert.Equal(1, await conn.QuerySingleAsync<int>(
            "select total_touchpoints from contact_summary where contact_id = @contactId", new { contactId }));
    }

    [Fact]
    public async Task Concurrent_triggers_for_one_entity_never_compute_at_once_and_the_last_write_is_always_counted()
    {
        var h = History;
        var contactId = await h.ContactAsync(null);
        var consumer = Consumer();
        var (running, maxRunning, computations) = (0, 0, 0);
        consumer.DuringComputation = async (request, ct) =>
        {
            var now = Interlocked.Increment(ref running);
            InterlockedMax(ref maxRunning, now);
            Interlocked.Increment(ref computations);
            await Task.Delay(40, ct);   // long enough for the next triggers to arrive meanwhile
            Interlocked.Decrement(ref running);
        };

        const int Triggers = 12;
        var tasks = new List<Task>();
        for (var i = 0; i < Triggers; i++)
        {
            await h.TouchpointAsync(DateTimeOffset.UtcNow, contactId: contactId);
            // Several "hosts" receive the trigger at once.
            tasks.Add(Task.Run(() => consumer.RecalculateAsync(new SummaryRecalculation("contact", contactId, $"trigger {i}"), default)));
            await Task.Delay(15);
        }
        await Task.WhenAll(tasks);

        Assert.Equal(1, maxRunning);
        Assert.InRange(computations, 2, Triggers);
        await using var conn = await database.DataSource.OpenConnectionAsync();
        Assert.Equal(Triggers, await conn.QuerySingleAsync<int>(
            "select total_touchpoints from contact_summary where contact_id = @contactId", new { contactId }));
        var redis = TestRedis.Connect();
        Assert.False(await redis.Database.KeyExistsAsync(SummaryLock.LockKey("contact", contactId)));
        Assert.False(await redis.Database.KeyExistsAsync(SummaryLock.DirtyKey("contact", contactId)));
    }

    [Fact]
    public async Task With_redis_down_the_summary_is_still_computed_without_the_lock()
    {
        var h = History;
        var contactId = await h.ContactAsync(null);
        await h.TouchpointAsync(DateTimeOffset.UtcNow, contactId: contactId);

        var logs = new LogCapture();
        await Consumer("127.0.0.1:1,connectTimeout=300", logs).RecalculateAsync(new SummaryRecalculation("contact", contactId, "test"), default);

        Assert.Contains(logs.Lines, l => l.StartsWith("Warning", StringComparison.Ordinal) && l.Contains("without its lock", StringComparison.Ordinal));

        await using var conn = await database.DataSource.OpenConnectionAsync();
        Assert.Equal(1, await conn.QuerySingleAsync<int>("select total_touchpoints from contact_summary where contact_id = @contactId", new { contactId }));
    }

    [Fact]
    public async Task A_message_for_an_entity_that_no_longer_exists_is_a_no_op()
    {
        await Consumer().RecalculateAsync(new SummaryRecalculation("lead", Guid.NewGuid(), "test"), default);
        await Consumer().RecalculateAsync(new SummaryRecalculation("planet", Guid.NewGuid(), "test"), default);
    }

    static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen) { }
    }

    static Task<IEnumerable<string>> Tags(Npgsql.NpgsqlConnection conn, Guid leadId) =>
        conn.QueryAsync<string>("select tag from computed_tag where entity_type = 'lead' and entity_id = @leadId order by tag", new { leadId });

    static Task<AccountSummary> Summary(Npgsql.NpgsqlConnection conn, Guid accountId) =>
        conn.QuerySingleAsync<AccountSummary>("""
            select total_contacts as Contacts, total_opportunities as Opportunities, won_opportunities as Won, lost_opportunities as Lost,
                   total_revenue as Revenue, win_rate as WinRate, health_score as Health
            from account_summary where account_id = @accountId
            """, new { accountId });

    sealed class AccountSummary
    {
        public int Contacts { get; set; }
        public int Opportunities { get; set; }
        public int Won { get; set; }
        public int Lost { get; set; }
        public decimal Revenue { get; set; }
        public decimal? WinRate { get; set; }
        public int Health { get; set; }
    }
}
