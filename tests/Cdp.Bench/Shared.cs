using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Cdp.Shared.Cleansing;
using Cdp.Shared.Ingestion;
using Cdp.Shared.Storage;
using Cdp.Tests.Support;
using Npgsql;

namespace Cdp.Bench
{
    sealed record Figures(int Count, TimeSpan Elapsed, double P50Ms, double P99Ms)
    {
        public double PerSecond => Count / Elapsed.TotalSeconds;
    }

    /// <summary>
    /// CPU seconds (user + system, Linux /proc) spent so far by the host process, this bench process and the local servers,
    /// to say where a figure's time went: on two shared cores a rate alone cannot tell whose work limits it.
    /// </summary>
    sealed record CpuUse(double Host, double Bench, double Postgres, double ClickHouse, double Redis)
    {
        public static CpuUse Now(int hostPid)
        {
            double postgres = 0, clickHouse = 0, redis = 0;
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
                var (comm, seconds) = Read(pid);
                if (comm == "postgres") postgres += seconds;
                else if (comm.StartsWith("clickhouse", StringComparison.Ordinal)) clickHouse += seconds;
                else if (comm == "redis-server") redis += seconds;
            }
            return new CpuUse(Read(hostPid).Seconds, Read(Environment.ProcessId).Seconds, postgres, clickHouse, redis);
        }

        /// <summary>"host 1.20, postgres 0.80, … ms per request" for the work done since <paramref name="from"/>.</summary>
        public string PerItemSince(CpuUse from, int items, string unit = "request")
        {
            string Ms(double seconds) => (seconds * 1000 / items).ToString("N2", CultureInfo.InvariantCulture);
            return $"host {Ms(Host - from.Host)}, postgres {Ms(Postgres - from.Postgres)}, clickhouse {Ms(ClickHouse - from.ClickHouse)}, " +
                   $"redis {Ms(Redis - from.Redis)}, bench client {Ms(Bench - from.Bench)} ms CPU per {unit}";
        }

        /// <summary>A process's command name and CPU seconds; a process that is gone counts nothing.</summary>
        public static (string Comm, double Seconds) Read(int pid) => ReadStat($"/proc/{pid}");

        /// <summary>A thread's name and CPU seconds (<paramref name="task"/>: /proc/PID/task/TID); a thread that is gone counts nothing.</summary>
        public static (string Comm, double Seconds) ReadTask(string task) => ReadStat(task);

        static (string Comm, double Seconds) ReadStat(string dir)
        {
            try
            {
                var stat = File.ReadAllText($"{dir}/stat");
                var close = stat.LastIndexOf(')');
                var comm = stat[(stat.IndexOf('(') + 1)..close];
                var fields = stat[(close + 2)..].Split(' ');
                // After the command: state is field 3, so utime (14) and stime (15) are at 11 and 12 here; ticks of 1/100 s.
                return (comm, (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return ("", 0);
            }
        }
    }

    /// <summary>
    /// Warm-up until the host's JIT has settled: a fresh .NET process compiles each method at tier 0, then with PGO
    /// instrumentation, then optimized (~20,000 compilations for the ingest path); while new methods keep appearing the
    /// runtime postpones the tier-up, so after a fixed warm-up of 4,000 records perf still had the tiered-compilation
    /// thread and the JIT at ~30 % of the samples of the timed part. A production host runs for hours, so the figures
    /// are for a settled one: rounds of untimed work run until the tiered-compilation thread spent under
    /// <see cref="SettledShare"/> of the host's CPU in a round, or <paramref name="maxRounds"/> ran.
    /// </summary>
    static class JitWarmUp
    {
        const double SettledShare = 0.03;

        public static async Task RunAsync(int hostPid, int maxRounds, Func<int, Task<string>> round)
        {
            for (var r = 0; r < maxRounds; r++)
            {
                var (host, tiering) = (CpuUse.Read(hostPid).Seconds, TieringSeconds(hostPid));
                var clock = Stopwatch.StartNew();
                var what = await round(r);
                var share = (TieringSeconds(hostPid) - tiering) / Math.Max(0.01, CpuUse.Read(hostPid).Seconds - host);
                var settled = share < SettledShare;
                Console.WriteLine($"warm-up round {r + 1,2} (untimed)      : {what} in {clock.Elapsed.TotalSeconds:N1} s; tiered JIT {share:P0} of the host's CPU{(settled ? ", settled" : "")}");
                if (settled) return;
            }
        }

        /// <summary>
        /// CPU seconds of the host's tiered-compilation thread (its name, as /proc shortens it). Threads that end while
        /// the list is read are skipped one by one: a failed read must not zero the sum, or a round would look settled.
        /// </summary>
        static double TieringSeconds(int pid)
        {
            try
            {
                return Directory.EnumerateDirectories($"/proc/{pid}/task").Sum(task =>
                {
                    var (comm, seconds) = CpuUse.ReadTask(task);
                    return comm.StartsWith(".NET Tiered Com", StringComparison.Ordinal) ? seconds : 0;
                });
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return 0;   // the host is gone
            }
        }
    }

    static class Args
    {
        public static int Int(string[] args, string name, int fallback)
        {
            var i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
        }
    }

    static class Report
    {
        public static void Line(string what, Figures f) =>
            Console.WriteLine($"{what,-33}: {f.PerSecond,10:N0} /s   p50 {f.P50Ms,6:N2} ms   p99 {f.P99Ms,6:N2} ms   ({f.Count:N0} in {f.Elapsed.TotalSeconds:N1} s)");

        public static double Percentile(List<double> sorted, double p) => sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)(p * sorted.Count))];

        public static async Task<(string Counts, double P50, double P99)> OutcomesAsync(NpgsqlDataSource db)
        {
            var counts = new List<string>();
            await using (var reader = await db.CreateCommand("select status, count(*) from ingestion_receipt group by 1 order by 1").ExecuteReaderAsync())
                while (await reader.ReadAsync()) counts.Add($"{reader.GetString(0)} {reader.GetInt64(1):N0}");
            await using var lag = await db.CreateCommand("""
                select percentile_cont(0.5) within group (order by ms), percentile_cont(0.99) within group (order by ms)
                from (select extract(epoch from processed_at - received_at) * 1000 as ms from ingestion_receipt where processed_at is not null) t
                """).ExecuteReaderAsync();
            await lag.ReadAsync();
            return (string.Join(", ", counts), lag.GetDouble(0), lag.GetDouble(1));
        }

        /// <summary>Where a record's time went: received -> cleansed (data-ingestion) and cleansed -> resolved (identity-resolution).</summary>
        public static async Task<string> HopsAsync(NpgsqlDataSource db)
        {
            await using var reader = await db.CreateCommand("""
                select percentile_cont(0.5) within group (order by c), percentile_cont(0.99) within group (order by c),
                       percentile_cont(0.5) within group (order by r), percentile_cont(0.99) within group (order by r)
                from (select extract(epoch from cleansed_at - received_at) * 1000 as c, extract(epoch from processed_at - cleansed_at) * 1000 as r
                      from ingestion_receipt where processed_at is not null and cleansed_at is not null) t
                """).ExecuteReaderAsync();
            await reader.ReadAsync();
            string Ms(int i) => reader.IsDBNull(i) ? "-" : $"{reader.GetDouble(i):N0}";
            return $"received->cleansed p50 {Ms(0)} ms, p99 {Ms(1)} ms; cleansed->resolved p50 {Ms(2)} ms, p99 {Ms(3)} ms";
        }
    }

    /// <summary>What a busy day looks like: CRM contacts of a few hundred companies, WeChat form leads, ERP accounts.</summary>
    static class Workload
    {
        static readonly string[] Cities = ["上海", "北京", "深圳", "杭州", "成都", "武汉", "南京", "苏州"];
        const string Syllables = "华瑞腾嘉盛鑫恒达泰丰博远宏信安康和美源通创新智联佳德隆启明星辰海川云峰";

        public static List<(string Channel, string Json)> Build(int count)
        {
            var random = new Random(42);
            var companies = Enumerable.Range(0, Math.Max(10, count / 20)).Select(_ =>
                (Name: new string(Enumerable.Range(0, 4).Select(_ => Syllables[random.Next(Syllables.Length)]).ToArray()) + "科技有限公司",
                 City: Cities[random.Next(Cities.Length)], Code: CreditCodeOf(random))).ToList();
            var list = new List<(string, string)>(count);
            for (var i = 0; i < count; i++)
            {
                var mobile = "13" + (100_000_000 + i * 7919L % 899_999_999).ToString(CultureInfo.InvariantCulture);
                var company = companies[random.Next(companies.Count)];
                var now = DateTimeOffset.UtcNow.ToString("O");
                list.Add((i % 5) switch
                {
                    < 3 => ("crm", JsonSerializer.Serialize(new
                    {
                        sourceId = $"crm-{i}", objectType = "contact", modifiedAt = now,
                        fields = new { LastName = "王", FirstName = "测" + i, Company = company.Name, City = company.City, MobilePhone = mobile, Email = $"u{i}@bench.example.com", Title = "经理" },
                    })),
                    3 => ("wechat", JsonSerializer.Serialize(new
                    {
                        openId = $"o-bench-{i}", unionId = $"u-bench-{i}", formId = "f1", submittedAt = now, name = "李" + i,
                        mobile, email = (string?)null, company = company.Name, city = company.City, title = "采购", utmSource = "ad", utmCampaign = "bench",
                    })),
                    _ => ("erp", JsonSerializer.Serialize(new
                    {
                        sourceId = $"erp-{i}", objectType = "account", modifiedAt = now,
                        fields = new { CustomerName = company.Name, CreditCode = company.Code, City = company.City },
                    })),
                });
            }
            return list;
        }

        static string CreditCodeOf(Random random)
        {
            var first17 = "91310000" + new string(Enumerable.Range(0, 9).Select(_ => CreditCode.Alphabet[random.Next(CreditCode.Alphabet.Length)]).ToArray());
            return first17 + CreditCode.ComputeCheckCharacter(first17);
        }
    }

    static class Measure
    {
        /// <summary>Runs <paramref name="one"/> for 0..count-1 from <paramref name="concurrency"/> loops; throughput and p50/p99 of each call.</summary>
        public static async Task<Figures> ConcurrentlyAsync(int count, int concurrency, Func<int, Task> one)
        {
            var latencies = new double[count];
            var next = -1;
            var clock = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < count)
                {
                    var t = Stopwatch.GetTimestamp();
                    await one(i);
                    latencies[i] = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
                }
            }));
            var sorted = latencies.Order().ToList();
            return new Figures(count, clock.Elapsed, Report.Percentile(sorted, 0.5), Report.Percentile(sorted, 0.99));
        }
    }

    /// <summary>The local host as its own process on the bench's scratch database and the local Redis/ClickHouse.</summary>
    static class BenchHost
    {
        public static string Redis => LocalServers.Redis;
        public static string ClickHouse => LocalServers.ClickHouse;

        public static Task<HostProcess> StartAsync(ScratchDatabase scratch, IReadOnlyDictionary<string, string?> settings)
        {
            var all = new Dictionary<string, string?>
            {
                ["ConnectionStrings:Postgres"] = scratch.ConnectionString,
                ["ConnectionStrings:PostgresOwner"] = scratch.ConnectionString,
                ["ConnectionStrings:Redis"] = Redis,
                ["ConnectionStrings:ClickHouse"] = ClickHouse,
                ["WeCom:CorpId"] = "wwbench", ["WeCom:Token"] = RandomSecret(), ["WeCom:Secret"] = RandomSecret(),
                ["WeCom:EncodingAesKey"] = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
                ["Auth:SessionKey"] = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
                ["Auth:BootstrapAdminKey"] = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24)),
                // The host refuses to start with the repository's sample secret; the calls bench overrides it with its stand-in's.
                ["VirtualNumbers:AccessKeySecret"] = RandomSecret() + RandomSecret(),
                ["Logging:PiiHashKey"] = RandomSecret() + RandomSecret(),
            };
            foreach (var channel in SignedChannels) all[$"{channel.SettingsSection}:SigningSecret"] = SecretOf(channel.Name);
            foreach (var (key, value) in settings) all[key] = value;
            return HostProcess.StartAsync(all);
        }

        static readonly Cdp.Shared.Ingestion.ChannelDescriptor[] SignedChannels =
            [.. Cdp.Shared.Ingestion.ChannelRegistry.All.Where(c => c.Signature == Cdp.Shared.Ingestion.SignatureScheme.Hmac)];

        static readonly Dictionary<string, string> ChannelSecrets = SignedChannels.ToDictionary(c => c.Name, _ => RandomSecret());

        /// <summary>The bench host's signing secret for a channel (each channel has its own; the host refuses shared ones).</summary>
        public static string SecretOf(string channel) => ChannelSecrets[channel];

        static string RandomSecret() => Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
    }

    static class Sender
    {
        public static Task<Figures> SendAsync(HttpClient client, List<(string Channel, string Json)> payloads, int concurrency, Func<string, string> secretOf) =>
            Measure.ConcurrentlyAsync(payloads.Count, concurrency, i => SendOneAsync(client, payloads, i, secretOf));

        /// <summary>
        /// Offers <paramref name="perSecond"/> webhooks a second (record i is due at i / rate), at most
        /// <paramref name="concurrency"/> in flight; a late response does not hold back the records due after it.
        /// </summary>
        public static async Task<Figures> SendAtRateAsync(
            HttpClient client, List<(string Channel, string Json)> payloads, int concurrency, double perSecond, Func<string, string> secretOf)
        {
            var latencies = new double[payloads.Count];
            using var inFlight = new SemaphoreSlim(concurrency);
            var clock = Stopwatch.StartNew();
            var sends = new List<Task>(payloads.Count);
            for (var i = 0; i < payloads.Count; i++)
            {
                var due = TimeSpan.FromSeconds(i / perSecond);
                if (due > clock.Elapsed) await Task.Delay(due - clock.Elapsed);
                await inFlight.WaitAsync();
                var index = i;
                sends.Add(Task.Run(async () =>
                {
                    try
                    {
                        var t = Stopwatch.GetTimestamp();
                        await SendOneAsync(client, payloads, index, secretOf);
                        latencies[index] = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
                    }
                    finally { inFlight.Release(); }
                }));
            }
            await Task.WhenAll(sends);
            var sorted = latencies.Order().ToList();
            return new Figures(payloads.Count, clock.Elapsed, Report.Percentile(sorted, 0.5), Report.Percentile(sorted, 0.99));
        }

        static async Task SendOneAsync(HttpClient client, List<(string Channel, string Json)> payloads, int i, Func<string, string> secretOf)
        {
            var (channel, json) = payloads[i];
            var body = Encoding.UTF8.GetBytes(json);
            var ts = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/ingest/{channel}")
            {
                Content = new ByteArrayContent(body) { Headers = { { "Content-Type", "application/json" } } },
            };
            request.Headers.Add("X-Cdp-Timestamp", ts);
            request.Headers.Add("X-Cdp-Signature", WebhookSignature.Compute(secretOf(channel), ts, body));
            using var response = await client.SendAsync(request);
            if ((int)response.StatusCode != 202) throw new InvalidOperationException($"{channel} #{i}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    static class Baseline
    {
        /// <summary>The ceiling one-transaction-per-webhook ingestion is up against on this machine, now.</summary>
        public static async Task<Figures> DurableInsertsAsync(NpgsqlDataSource db, int count, int concurrency)
        {
            await db.CreateCommand("create table bench_baseline (id uuid primary key, payload jsonb not null)").ExecuteNonQueryAsync();
            var payload = JsonSerializer.Serialize(new { data = new string('x', 1000) });
            var figures = await Measure.ConcurrentlyAsync(count, concurrency, async _ =>
            {
                await using var cmd = db.CreateCommand("insert into bench_baseline values ($1, $2::jsonb)");
                cmd.Parameters.AddWithValue(Guid.CreateVersion7());
                cmd.Parameters.AddWithValue(payload);
                await cmd.ExecuteNonQueryAsync();
            });
            await db.CreateCommand("drop table bench_baseline").ExecuteNonQueryAsync();
            return figures;
        }
    }
}

namespace Cdp.Bench
{
    /// <summary>A migrated database of the bench's own, dropped afterwards unless --keep.</summary>
    sealed class ScratchDatabase : IAsyncDisposable
    {
        // The owner role (./cdp's cdp_owner) creates, migrates, uses and drops it: the bench makes tables of its own.
        static readonly string Server = LocalServers.PostgresOwner;

        readonly bool keep;

        ScratchDatabase(string name, bool keep)
        {
            Name = name;
            this.keep = keep;
            ConnectionString = new NpgsqlConnectionStringBuilder(Server) { Database = name, MaxPoolSize = 100 }.ToString();
            DataSource = Cdp.Shared.CdpPlatform.CreateDataSource(ConnectionString);
        }

        public string Name { get; }
        public string ConnectionString { get; }
        public NpgsqlDataSource DataSource { get; }

        public static async Task<ScratchDatabase> CreateAsync(bool keep)
        {
            var name = "cdp_bench_" + DateTime.UtcNow.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
            await using (var admin = NpgsqlDataSource.Create(Server)) await admin.CreateCommand($"create database {name}").ExecuteNonQueryAsync();
            var scratch = new ScratchDatabase(name, keep);
            await Migrations.ApplyAsync(scratch.DataSource);
            return scratch;
        }

        public async ValueTask DisposeAsync()
        {
            await DataSource.DisposeAsync();
            if (keep) return;
            NpgsqlConnection.ClearAllPools();
            await using var admin = NpgsqlDataSource.Create(Server);
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await admin.CreateCommand($"drop database if exists {Name} with (force)").ExecuteNonQueryAsync();
                    return;
                }
                catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InsufficientPrivilege && attempt < 30)
                {
                    // An autovacuum worker (not ours to terminate) is still in the freshly loaded database: it ends soon.
                    await Task.Delay(TimeSpan.FromSeconds(1));
                }
            }
        }
    }
}
