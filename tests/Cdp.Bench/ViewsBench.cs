using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Cdp.Shared.Access;
using Cdp.Shared.Customers;
using Cdp.Shared.Events;
using Cdp.Shared.Storage;
using Cdp.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Cdp.Bench;

/// <summary>
/// ./cdp bench views [--accounts N] [--contacts N] [--reads N] [--concurrency C] [--warmup W] [--count-queries Q] [--audit-only] [--keep]: loads accounts, contacts,
/// opportunities, summaries, touchpoints and ClickHouse events, then reads account and contact 360 views through a
/// host process, first uncached (every read a miss) then cached, each beside same-run baselines for the same rows:
/// the raw Redis GET of the cached bytes, the raw Postgres round trip of the view's rows, the raw ClickHouse count.
/// Every timed path first runs untimed on W other ids of each kind (both processes start cold). --count-queries sets the
/// host's Events:CountQueriesInFlight.
/// </summary>
static class ViewsBench
{
    const int WarmUpRounds = 12;

    public static async Task RunAsync(string[] args)
    {
        var accounts = Args.Int(args, "--accounts", 20_000);
        var contacts = Args.Int(args, "--contacts", 100_000);
        var reads = Args.Int(args, "--reads", 2_000);
        var concurrency = Args.Int(args, "--concurrency", 16);
        var warmup = Args.Int(args, "--warmup", 1_000);
        await using var scratch = await ScratchDatabase.CreateAsync(keep: args.Contains("--keep"));
        if (args.Contains("--audit-only"))
        {
            var auditIds = Enumerable.Range(0, reads).Select(_ => Guid.NewGuid()).ToList();
            await AuditAsync(scratch.DataSource, auditIds, concurrency);   // the first pass warms, the second is printed
            await AuditAsync(scratch.DataSource, auditIds, concurrency);
            return;
        }
        var chDb = scratch.Name;
        using var ch = LocalServers.ClickHouseClient();
        ch.Timeout = TimeSpan.FromMinutes(5);
        Console.WriteLine($"cdp bench views: {accounts:N0} accounts, {contacts:N0} contacts, {reads:N0} reads per figure, {concurrency} concurrent readers, {Environment.ProcessorCount} cores, databases {scratch.Name}");

        // A salt per run: the ids (and so the Redis keys) never repeat a previous run's, whose views may still be cached.
        var salt = Guid.NewGuid().ToString("N")[..8];
        var load = Stopwatch.StartNew();
        var eventCount = await LoadAsync(scratch.DataSource, ch, chDb, salt, accounts, contacts);
        Console.WriteLine($"loaded in {load.Elapsed.TotalSeconds:N0} s ({eventCount:N0} ClickHouse events)");

        try
        {
            var settings = new Dictionary<string, string?>
            {
                ["ClickHouse:Database"] = chDb,
                ["Topics:ConsumersEnabled"] = "false",   // only reads compete for the cores
            };
            if (Args.Int(args, "--count-queries", 0) is > 0 and var hostInFlight) settings["Events:CountQueriesInFlight"] = hostInFlight.ToString(CultureInfo.InvariantCulture);
            await using var host = await BenchHost.StartAsync(scratch, settings);
            // The timed ids and the warm-up's are disjoint, so no timed read finds its view cached by the warm-up.
            var random = new Random(7);
            var accountSample = Sample(random, accounts, reads + warmup * WarmUpRounds).Select(i => Id(salt, "a", i)).ToList();
            var contactSample = Sample(random, contacts, reads + warmup * WarmUpRounds).Select(i => Id(salt, "c", i)).ToList();
            var (accountIds, warmAccounts) = (accountSample.Take(reads).ToList(), accountSample.Skip(reads).ToList());
            var (contactIds, warmContacts) = (contactSample.Take(reads).ToList(), contactSample.Skip(reads).ToList());

            var redis = new RedisConnection(new ConfigurationBuilder()
                .AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:Redis"] = BenchHost.Redis }).Build());
            var accountReads = new AccountReads(scratch.DataSource);
            var contactReads = new ContactReads(scratch.DataSource);
            var options = new CustomerViewOptions();
            Task RawPostgres(string kind, Guid id) => kind == "account"
                ? accountReads.Read360Async(id, options.ListLimit, options.TouchpointLimit, CancellationToken.None)
                : contactReads.Read360Async(id, options.ListLimit, options.TouchpointLimit, CancellationToken.None);
            // The query the view makes: the daily pre-aggregate (ClickHouseHttp.DailyTable), at most 30 rows per type.
            Task RawDaily(string kind, Guid id) => Sql(ch,
                $"SELECT event_type, uniqExactMerge(events) FROM {chDb}.{ClickHouseHttp.DailyTable} WHERE subject = '{kind}' AND subject_id = toUUID('{id}') AND day > toDate(now(), 'UTC') - 30 GROUP BY event_type");
            static string PathOf(string kind, Guid id) =>
                string.Format(CultureInfo.InvariantCulture, kind == "account" ? "/api/accounts/{0}/360" : "/api/contacts/{0}/360", id);

            // Both processes start cold, and JIT compilation in the first seconds would be measured as our code's time:
            // every timed path runs first on other ids, untimed, in rounds until the host's JIT has settled (JitWarmUp).
            var warmPartial = 0;
            if (warmup > 0)
            {
                await JitWarmUp.RunAsync(host.Pid, WarmUpRounds, async round =>
                {
                    foreach (var (kind, sample) in new[] { ("account", warmAccounts), ("contact", warmContacts) })
                    {
                        var ids = sample.Skip(round * warmup).Take(warmup).ToList();
                        await MeasureAsync(ids, concurrency, id => RawPostgres(kind, id));
                        await MeasureAsync(ids, concurrency, id => RawDaily(kind, id));
                        await MeasureAsync(ids, concurrency, id => GetAsync(host.Client, PathOf(kind, id), expectCached: false, () => { }, () => Interlocked.Increment(ref warmPartial)));
                        await MeasureAsync(ids, concurrency, id => GetAsync(host.Client, PathOf(kind, id), expectCached: true, () => { }, () => Interlocked.Increment(ref warmPartial)));
                    }
                    return $"{warmup:N0} account and {warmup:N0} contact views, uncached and cached, and the raw reads" +
                           (warmPartial > 0 ? $" ({warmPartial} partial answers while cold)" : "");
                });
                if (warmPartial > 0) Console.WriteLine($"  host warnings: {string.Join(" | ", host.Output.Where(l => l.StartsWith("warn", StringComparison.Ordinal)).Take(2))}");
            }

            foreach (var (kind, ids) in new[] { ("account", accountIds), ("contact", contactIds) })
            {
                Console.WriteLine();
                var rawPostgres = await MeasureAsync(ids, concurrency, id => RawPostgres(kind, id));
                Report.Line($"baseline: raw Postgres, {kind} rows", rawPostgres);
                var column = kind == "account" ? "account_id" : "contact_id";
                var rawClickHouse = await MeasureAsync(ids, concurrency, async id => await Sql(ch,
                    $"SELECT event_type, uniqExact(event_id) FROM {chDb}.{ClickHouseHttp.Table} WHERE {column} = toUUID('{id}') AND occurred_at >= now() - INTERVAL 30 DAY GROUP BY event_type"));
                Report.Line($"baseline: raw ClickHouse counts", rawClickHouse);
                if (kind == "contact")
                {
                    // The same count on the contact-ordered copy (ClickHouseHttp.OrderedCopies).
                    var rawCopy = await MeasureAsync(ids, concurrency, async id => await Sql(ch,
                        $"SELECT event_type, uniqExact(event_id) FROM {chDb}.{ClickHouseHttp.OrderedCopies[0].Table} WHERE {column} = toUUID('{id}') AND occurred_at >= now() - INTERVAL 30 DAY GROUP BY event_type"));
                    Report.Line($"baseline: raw ClickHouse counts, ordered copy", rawCopy);
                }
                var rawDaily = await MeasureAsync(ids, concurrency, id => RawDaily(kind, id));
                Report.Line($"baseline: raw ClickHouse counts, daily pre-aggregate", rawDaily);
                // The view's count loader alone, in this process on the same servers, at 1, 2 and 4 queries in flight: how
                // many ClickHouse queries it sends per request (the host's own counters are not visible from here).
                foreach (var inFlight in new[] { 1, 2, 4 })
                {
                    var loader = CountLoader(chDb, inFlight);
                    var subject = kind == "account" ? BehaviourSubject.Account : BehaviourSubject.Contact;
                    var batched = await MeasureAsync(ids, concurrency, async id =>
                        _ = await loader.CountsByTypeAsync(subject, id) ?? throw new InvalidOperationException("ClickHouse counts failed"));
                    Report.Line($"count loader, {inFlight} queries in flight", batched);
                    Console.WriteLine($"  {(double)loader.CountQueries / ids.Count:N3} ClickHouse queries per request");
                }

                var hits = 0;
                var cpu = CpuUse.Now(host.Pid);
                var uncached = await MeasureAsync(ids, concurrency, id => GetAsync(host.Client, PathOf(kind, id),
                    expectCached: false, () => Interlocked.Increment(ref hits)));
                Report.Line($"GET {kind} 360, uncached", uncached);
                Console.WriteLine($"  {CpuUse.Now(host.Pid).PerItemSince(cpu, ids.Count)}");
                var misses = 0;
                cpu = CpuUse.Now(host.Pid);
                var cached = await MeasureAsync(ids, concurrency, id => GetAsync(host.Client, PathOf(kind, id),
                    expectCached: true, () => Interlocked.Increment(ref misses)));
                Report.Line($"GET {kind} 360, cached", cached);
                Console.WriteLine($"  {CpuUse.Now(host.Pid).PerItemSince(cpu, ids.Count)}");
                if (hits + misses > 0) Console.WriteLine($"  (unexpected: {hits} hits in the uncached pass, {misses} misses in the cached pass)");

                var db = redis.Database;
                var rawRedis = await MeasureAsync(ids, concurrency, async id =>
                    await db.StringGetAsync(CustomerViewCache.Keys.Of(new CustomerRef(kind, id)).Value));
                Report.Line("baseline: raw Redis GET, same bytes", rawRedis);
                Console.WriteLine($"uncached p50 / raw Postgres + ClickHouse p50: {uncached.P50Ms / (rawPostgres.P50Ms + rawClickHouse.P50Ms):N1}x; " +
                                  $"cached p50 / raw Redis p50: {cached.P50Ms / rawRedis.P50Ms:N1}x");
            }

            Console.WriteLine();
            await AuditAsync(scratch.DataSource, accountIds, concurrency);

            var warnings = host.Output.Where(l => l.StartsWith("warn", StringComparison.Ordinal)).ToList();
            if (warnings.Count > 0) Console.WriteLine($"host warnings ({warnings.Count}), first: {string.Join(" | ", host.Output.SkipWhile(l => !l.StartsWith("warn", StringComparison.Ordinal)).Take(3))}");
            await host.StopAsync();
        }
        finally
        {
            if (!args.Contains("--keep")) await Sql(ch, $"DROP DATABASE IF EXISTS {chDb}");
        }
    }

    /// <summary>A read's audit row as every 360 answer writes it: one transaction per read (before) beside the group commit.</summary>
    static async Task AuditAsync(NpgsqlDataSource db, List<Guid> ids, int concurrency)
    {
        var actor = new AuditActor("bench", null, "127.0.0.1", "cdp bench views");
        AuditEntry Read(Guid id) => actor.Did(PiiReads.ReadAction, "account", id.ToString(), new { masked = true });
        var oneEach = await MeasureAsync(ids, concurrency, async id =>
        {
            await using var conn = await db.OpenConnectionAsync();
            await using var tx = await conn.BeginTransactionAsync();
            await using (var off = new NpgsqlCommand("set local synchronous_commit = off", conn, tx)) await off.ExecuteNonQueryAsync();
            await AuditLog.WriteAsync(conn, tx, Read(id));
            await tx.CommitAsync();
        });
        Report.Line("baseline: audit row, a transaction per read", oneEach);
        foreach (var writers in new[] { 2, 4 })
        {
            var audit = new AuditLog(db, writers);
            var grouped = await MeasureAsync(ids, concurrency, id => audit.WriteReadAsync(Read(id), CancellationToken.None));
            Report.Line($"audit row, group commit, {writers} groups at once", grouped);
            Console.WriteLine($"  {(double)ids.Count / audit.ReadCommits:N1} rows per commit");
        }
    }

    static BehaviourQueries CountLoader(string chDb, int inFlight)
    {
        var events = Options.Create(new EventsOptions { Database = chDb, CountQueriesInFlight = inFlight });
        var config = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:ClickHouse"] = BenchHost.ClickHouse }).Build();
        return new BehaviourQueries(new ClickHouseHttp(new HttpClient(), config, events), events, NullLogger<BehaviourQueries>.Instance);
    }

    /// <summary>The id Postgres computes as md5(salt || kind || i)::uuid (the uuid reads the hex digits in order).</summary>
    static Guid Id(string salt, string kind, int i) =>
        Guid.ParseExact(Convert.ToHexString(System.Security.Cryptography.MD5.HashData(Encoding.UTF8.GetBytes($"{salt}{kind}{i}"))), "N");

    static IEnumerable<int> Sample(Random random, int population, int count) =>
        Enumerable.Range(1, population).OrderBy(_ => random.Next()).Take(Math.Min(count, population));

    /// <summary>GETs a view; counts a read whose cached flag is not the one expected (printed with the figures).</summary>
    /// <param name="partial">Called for a partial view; without it a partial view stops the bench.</param>
    static async Task GetAsync(HttpClient client, string path, bool expectCached, Action unexpected, Action? partial = null)
    {
        using var response = await client.GetAsync(path);
        if ((int)response.StatusCode != 200) throw new InvalidOperationException($"GET {path} answered {(int)response.StatusCode}");
        using var view = JsonDocument.Parse(await response.Content.ReadAsStreamAsync());
        if (view.RootElement.GetProperty("partial").GetBoolean())
        {
            if (partial is null) throw new InvalidOperationException($"GET {path} was partial");
            partial();
            return;
        }
        if (view.RootElement.GetProperty("cached").GetBoolean() != expectCached) unexpected();
    }

    static Task<Figures> MeasureAsync(List<Guid> ids, int concurrency, Func<Guid, Task> read) =>
        Measure.ConcurrentlyAsync(ids.Count, concurrency, i => read(ids[i]));

    /// <summary>
    /// Set-based inserts (ids are md5 of salt, kind and number, so rows can name each other without a lookup): every
    /// account has contacts/accounts contacts (the first its primary), two opportunities (one won), a summary and an
    /// ERP identity; every contact a summary and two touchpoints; ten events per account in ClickHouse.
    /// </summary>
    static async Task<int> LoadAsync(NpgsqlDataSource db, HttpClient ch, string chDb, string salt, int accounts, int contacts)
    {
        string B(string kind, string number) => $"md5('{salt}{kind}' || ({number}))::uuid";
        await using (var cmd = db.CreateCommand($$"""
            insert into account (account_id, account_name, name_normalized, name_short, city, shard_id)
            select {{B("a", "i")}}, '基准' || i || '科技有限公司', '基准' || i || '科技有限公司', '基准' || i, '上海', (i % 16)::smallint
            from generate_series(1, @accounts) i;
            insert into contact (contact_id, contact_name, mobile_phone, email, title, city, primary_account_id, shard_id)
            select {{B("c", "j")}}, '联系人' || j, '13' || lpad(j::text, 9, '0'), 'u' || j || '@bench.example.com', '经理', '上海',
                   {{B("a", "1 + j % @accounts")}}, (j % 16)::smallint
            from generate_series(1, @contacts) j;
            insert into account_contact_relation (account_id, contact_id, role_in_account, is_primary_contact)
            select {{B("a", "1 + j % @accounts")}}, {{B("c", "j")}}, '采购', j <= @accounts from generate_series(1, @contacts) j;
            insert into opportunity (opportunity_id, account_id, contact_id, opportunity_name, amount, stage, is_closed, is_won, closed_at)
            select {{B("o", "i * 2 + k")}}, {{B("a", "i")}}, {{B("c", "i")}}, '项目' || k, 1000 * (1 + k),
                   case k when 0 then 'closed_won' else 'proposal' end, k = 0, k = 0, case k when 0 then now() - interval '10 days' end
            from generate_series(1, @accounts) i, generate_series(0, 1) k;
            insert into account_summary (account_id, total_contacts, total_opportunities, won_opportunities, lost_opportunities,
                                         total_revenue, win_rate, health_score, last_activity_at)
            select {{B("a", "i")}}, @contacts / @accounts, 2, 1, 0, 1000, 1, 80, now() - interval '1 day' from generate_series(1, @accounts) i;
            insert into account_channel_identity (account_id, channel_id, channel_account_id, first_seen_at, last_seen_at)
            select {{B("a", "i")}}, 'erp', 'ERP-{{salt}}-' || i, now() - interval '90 days', now() from generate_series(1, @accounts) i;
            insert into contact_summary (contact_id, total_touchpoints, email_opens, form_submissions, engagement_score, last_activity_at)
            select {{B("c", "j")}}, 2, 1, 1, j % 100, now() - interval '1 day' from generate_series(1, @contacts) j;
            insert into touchpoint (touchpoint_id, contact_id, account_id, channel_id, touchpoint_time, touchpoint_type, details)
            select {{B("t", "j * 2 + k")}}, {{B("c", "j")}}, {{B("a", "1 + j % @accounts")}}, 'sdk',
                   now() - make_interval(hours => (j * 7 + k * 13) % 1440), case k when 0 then 'email_open' else 'form_submit' end,
                   '{"path":"/pricing"}'
            from generate_series(1, @contacts) j, generate_series(0, 1) k;
            analyze;
            """))
        {
            cmd.CommandTimeout = 600;
            cmd.Parameters.AddWithValue("accounts", accounts);
            cmd.Parameters.AddWithValue("contacts", contacts);
            await cmd.ExecuteNonQueryAsync();
        }

        await Sql(ch, $"CREATE DATABASE IF NOT EXISTS {chDb}");
        foreach (var (sql, _, _) in ClickHouseHttp.SchemaSqlFor(chDb)) await Sql(ch, sql);   // the table, its ordered copies, the daily counts and their views
        var types = new[] { "page_view", "click", "download", "video_play", "form_view" };
        var now = DateTimeOffset.UtcNow;
        var rows = new List<string>();
        for (var i = 1; i <= accounts; i++)
        {
            for (var k = 0; k < 10; k++)
            {
                var n = i * 10 + k;
                rows.Add(JsonSerializer.Serialize(EventRow.From(new ValidEvent($"bench-{salt}-{n}", $"user-{i}", Id(salt, "c", 1 + n % contacts), null,
                    Id(salt, "a", i), types[k % types.Length], now.AddMinutes(-n % 40_000), "{}"), now), Cdp.Shared.CdpJson.Options));
            }
        }
        foreach (var chunk in rows.Chunk(20_000))
        {
            using var content = new StringContent(string.Join('\n', chunk), Encoding.UTF8);
            using var response = await ch.PostAsync($"?query={Uri.EscapeDataString($"INSERT INTO {chDb}.{ClickHouseHttp.Table} FORMAT JSONEachRow")}", content);
            response.EnsureSuccessStatusCode();
        }
        return rows.Count;
    }

    static async Task<string> Sql(HttpClient ch, string sql)
    {
        using var response = await ch.PostAsync("", new StringContent(sql, Encoding.UTF8, "text/plain"));
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode) throw new HttpRequestException($"ClickHouse {(int)response.StatusCode}: {text}");
        return text.Trim();
    }
}
