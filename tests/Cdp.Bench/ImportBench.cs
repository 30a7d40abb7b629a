using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Cdp.Shared.Cleansing;
using Cdp.Shared.Ingestion;
using Npgsql;

namespace Cdp.Bench;

/// <summary>
/// ./cdp bench import [--records N] [--chunk-rows R] [--lanes L] [--stage-only] [--keep]: a bulk first load of N crm
/// records (NDJSON) into the local host (its own process, scratch database), beside a same-run raw COPY of the same
/// lines into a scratch table. Prints staging (body -> COPY -> chunks queued), the CPU ceiling of reading and
/// cleansing on this machine, end-to-end records/s, chunk latency p50/p99 and where the chunks' time went (read +
/// cleanse, receipts, resolution), then the write floor (<see cref="WriteFloor"/>: the run's own row writes, set-based).
/// --stage-only leaves the consumers off and measures the staging alone.
/// </summary>
static class ImportBench
{
    public static async Task RunAsync(string[] args)
    {
        var records = Args.Int(args, "--records", 100_000);
        var chunkRows = Args.Int(args, "--chunk-rows", 1000);
        var lanes = Args.Int(args, "--lanes", 1);
        var stageOnly = args.Contains("--stage-only");
        await using var scratch = await ScratchDatabase.CreateAsync(keep: args.Contains("--keep"));
        var db = scratch.DataSource;
        Console.WriteLine($"cdp bench import: {records:N0} crm records, chunks of {chunkRows:N0}, {lanes} lane(s), {Environment.ProcessorCount} cores, database {scratch.Name}");

        var file = Path.Combine(Path.GetTempPath(), $"cdp-bench-import-{Guid.NewGuid():N}.ndjson");
        try
        {
            var bytes = Generate(file, records);
            Console.WriteLine($"file                             : {bytes / 1024.0 / 1024.0,10:N1} MB");

            var copy = await RawCopyAsync(db, file);
            Console.WriteLine($"baseline: raw COPY of the lines  : {records / copy.TotalSeconds,10:N0} records/s  ({copy.TotalSeconds:N1} s)");

            // The steps first: they also warm the JIT up for the measurement on every core.
            var steps = string.Join("   ", Steps(file).Select(s => $"{s.Step} {s.PerSecond:N0}/s"));
            var cpu = ReadAndCleanse(file);
            Console.WriteLine($"read + cleanse, all cores, no I/O: {cpu.Lines / cpu.Took.TotalSeconds,10:N0} records/s  ({cpu.Lines:N0} in {cpu.Took.TotalSeconds:N1} s)");
            Console.WriteLine($"  one core, by step              : {steps}");

            var adminKey = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24));
            await using var host = await BenchHost.StartAsync(scratch, new Dictionary<string, string?>
            {
                ["Auth:BootstrapAdminKey"] = adminKey,
                ["VirtualNumbers:AccessKeySecret"] = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
                ["Topics:ConsumersEnabled"] = stageOnly ? "false" : "true",
                ["Imports:ChunkRows"] = chunkRows.ToString(CultureInfo.InvariantCulture),
                ["Imports:Lanes"] = lanes.ToString(CultureInfo.InvariantCulture),
                ["Logging:LogLevel:Default"] = "Warning",
            });
            using var client = new HttpClient { BaseAddress = host.BaseUrl, Timeout = TimeSpan.FromHours(2) };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", adminKey);

            if (!stageOnly)
            {
                // Untimed: the host is a fresh process whose JIT would otherwise be measured along with the first chunks;
                // rounds of other records until it has settled (JitWarmUp).
                await JitWarmUp.RunAsync(host.Pid, WarmUpRounds, async round =>
                {
                    var warmFile = Path.Combine(Path.GetTempPath(), $"cdp-bench-import-warm-{Guid.NewGuid():N}.ndjson");
                    try
                    {
                        Generate(warmFile, WarmUpRecords, seed: 41 + round, prefix: $"warm{round}");
                        var warmStatus = await WaitAsync(client, await PostAsync(client, warmFile));
                        return $"an import of {WarmUpRecords:N0} other records, state {warmStatus.GetProperty("state").GetString()}";
                    }
                    finally
                    {
                        File.Delete(warmFile);
                    }
                });
            }

            var writesBefore = await WriteFloor.BeforeRunAsync(db);
            var used = CpuUse.Now(host.Pid);
            var clock = Stopwatch.StartNew();
            var importId = await PostAsync(client, file);
            var staged = clock.Elapsed;
            Console.WriteLine($"staging: body -> COPY -> queued  : {records / staged.TotalSeconds,10:N0} records/s  ({staged.TotalSeconds:N1} s; {staged.TotalSeconds / copy.TotalSeconds:N1}x the raw COPY)");
            if (stageOnly) return;

            var status = await WaitAsync(client, importId);
            var total = clock.Elapsed;
            Console.WriteLine($"import -> resolved (end to end)  : {records / total.TotalSeconds,10:N0} records/s  ({total.TotalSeconds:N1} s, state {status.GetProperty("state").GetString()})");
            Console.WriteLine($"CPU, post to done                : {CpuUse.Now(host.Pid).PerItemSince(used, records, "record")}");
            Console.WriteLine($"outcomes                         : processed {Int(status, "processed")}, review {Int(status, "review")}, rejected {Int(status, "rejected")}, duplicate {Int(status, "duplicate")}, failed {Int(status, "failed")}");

            await using var cmd = db.CreateCommand("""
                select percentile_cont(0.5) within group (order by took_ms), percentile_cont(0.99) within group (order by took_ms),
                       sum(read_ms), sum(receipt_ms), sum(resolve_ms), sum(took_ms), sum(rows),
                       extract(epoch from max(done_at) - min(j.staged_at)) * 1000
                from import_chunk c join import_job j using (import_id) where c.import_id = $1 and c.state = 'done'
                """);
            cmd.Parameters.AddWithValue(importId);
            await using var reader = await cmd.ExecuteReaderAsync();
            await reader.ReadAsync();
            var rows = reader.GetInt64(6);
            double PerSecond(int column) => rows / (reader.GetDouble(column) / 1000);
            double Seconds(int column) => reader.GetDouble(column) / 1000;
            Console.WriteLine($"chunk latency                    : p50 {reader.GetDouble(0),8:N0} ms   p99 {reader.GetDouble(1),8:N0} ms");
            // Per phase: the rows over the time chunks spent in it (summed over chunks, so overlapping chunks add up).
            Console.WriteLine($"phase: staging                   : {records / staged.TotalSeconds,10:N0} records/s  ({staged.TotalSeconds:N1} s wall)");
            Console.WriteLine($"phase: read + cleanse            : {PerSecond(2),10:N0} records/s  ({Seconds(2):N1} s in chunks)");
            Console.WriteLine($"phase: receipts                  : {PerSecond(3),10:N0} records/s  ({Seconds(3):N1} s in chunks)");
            Console.WriteLine($"phase: resolution                : {PerSecond(4),10:N0} records/s  ({Seconds(4):N1} s in chunks)");
            Console.WriteLine($"phase: chunks, whole             : {PerSecond(5),10:N0} records/s  ({Seconds(5):N1} s in chunks; {Seconds(7):N1} s wall from staged to last chunk)");
            Console.WriteLine($"ratio end to end / raw COPY      : {copy.TotalSeconds / total.TotalSeconds:P1}");
            await host.StopAsync();
            await WriteFloor.PrintAfterRunAsync(db, writesBefore, records, records / total.TotalSeconds);
        }
        finally
        {
            File.Delete(file);
        }
    }

    const int WarmUpRecords = 2_000, WarmUpRounds = 24;

    static async Task<Guid> PostAsync(HttpClient client, string file)
    {
        await using var body = File.OpenRead(file);
        using var content = new StreamContent(body, 256 * 1024);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");
        using var response = await client.PostAsync("/api/imports?channel=crm", content);
        if ((int)response.StatusCode != 202) throw new InvalidOperationException($"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("importId").GetGuid();
    }

    static async Task<JsonElement> WaitAsync(HttpClient client, Guid importId)
    {
        while (true)
        {
            var status = await client.GetFromJsonAsync<JsonElement>($"/api/imports/{importId}");
            if (status.GetProperty("state").GetString() is "done" or "failed") return status;
            await Task.Delay(250);
        }
    }

    static string Int(JsonElement status, string name) => status.GetProperty(name).GetInt32().ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>
    /// A first load's shape, streamed to a file: CRM contacts, leads and accounts of recurring people (a third as many
    /// people as records) and companies (a twentieth), 2 % with a mobile cleansing rejects.
    /// </summary>
    static long Generate(string file, int count, int seed = 14, string prefix = "crm")
    {
        const string Syllables = "华瑞腾嘉盛鑫恒达泰丰博远宏信安康和美源通创新智联佳德隆启明星辰海川云峰";
        string[] cities = ["上海", "北京", "深圳", "杭州", "成都", "武汉", "南京", "苏州"];
        var random = new Random(seed);
        var companies = Math.Max(10, count / 20);
        var people = Math.Max(10, count / 3);
        var at = DateTimeOffset.UtcNow.AddDays(-1);
        using var writer = new StreamWriter(file, false, new UTF8Encoding(false), 1 << 20);
        for (var i = 0; i < count; i++)
        {
            var p = random.Next(people);
            var c = p % companies;
            var company = (prefix == "crm" ? "" : "暖") + CompanyName(c);   // the warm-up's people and companies are not the measured ones
            var city = cities[c % cities.Length];
            var mobile = random.Next(50) == 0 ? "12345" : (prefix == "crm" ? "13" : "15") + (100_000_000 + p * 7919L % 899_999_999).ToString(CultureInfo.InvariantCulture);
            var modified = at.AddMilliseconds(i).ToString("O", CultureInfo.InvariantCulture);
            object fields = (i % 10) switch
            {
                < 5 => new { LastName = "王", FirstName = "测" + p, Company = company, City = city, MobilePhone = mobile, Email = $"{prefix}{p}@bench.example.com", Title = "经理" },
                < 8 => new { LastName = "李", FirstName = "线" + p, Company = company, City = city, MobilePhone = mobile, LeadSource = "expo" },
                _ => new { AccountName = company, City = city },
            };
            var type = (i % 10) switch { < 5 => "contact", < 8 => "lead", _ => "account" };
            writer.Write(JsonSerializer.Serialize(new { sourceId = $"{prefix}-{i}", objectType = type, modifiedAt = modified, fields }));
            writer.Write('\n');
        }
        writer.Flush();
        return writer.BaseStream.Length;

        string CompanyName(int c)
        {
            var r = new Random(c);
            return new string(Enumerable.Range(0, 4).Select(_ => Syllables[r.Next(Syllables.Length)]).ToArray()) + c.ToString(CultureInfo.InvariantCulture) + "科技有限公司";
        }
    }

    /// <summary>The same lines COPY'd (binary, one transaction) into a scratch table: what the disk and Postgres take at most.</summary>
    static async Task<TimeSpan> RawCopyAsync(NpgsqlDataSource db, string file)
    {
        await db.CreateCommand("create table bench_copy (line_no int not null, payload text not null)").ExecuteNonQueryAsync();
        var clock = Stopwatch.StartNew();
        await using (var conn = await db.OpenConnectionAsync())
        {
            await using var copy = await conn.BeginBinaryImportAsync("copy bench_copy (line_no, payload) from stdin (format binary)");
            var n = 0;
            foreach (var line in File.ReadLines(file))
            {
                await copy.StartRowAsync();
                await copy.WriteAsync(++n, NpgsqlTypes.NpgsqlDbType.Integer);
                await copy.WriteAsync(line, NpgsqlTypes.NpgsqlDbType.Text);
            }
            await copy.CompleteAsync();
        }
        var took = clock.Elapsed;
        await db.CreateCommand("drop table bench_copy").ExecuteNonQueryAsync();
        return took;
    }

    /// <summary>Each step of reading and cleansing alone, on one core, over the first 20,000 lines: which one limits.</summary>
    static IEnumerable<(string Step, double PerSecond)> Steps(string file)
    {
        var lines = File.ReadLines(file).Take(20_000).ToArray();
        var bytes = lines.Select(Encoding.UTF8.GetBytes).ToArray();
        var now = DateTimeOffset.UtcNow;
        var records = new Cdp.Shared.Ingestion.CustomerRecord[lines.Length];
        (string, double) Time(string step, Action<int> one)
        {
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < lines.Length; i++) one(i);
            return (step, lines.Length / clock.Elapsed.TotalSeconds);
        }
        yield return Time("envelope", i => ChannelPayloads.ReadEnvelope("crm", bytes[i], now));
        yield return Time("to-record", i => records[i] = ChannelPayloads.ToRecord("crm", lines[i]));
        yield return Time("envelope+record (one parse)", i => ChannelPayloads.ReadRecord("crm", bytes[i], now));
        yield return Time("cleanse", i => RecordCleanser.Cleanse(records[i]));
        yield return Time("sha256", i => System.Security.Cryptography.SHA256.HashData(bytes[i]));
    }

    /// <summary>What a chunk does before it touches the database, for (up to 200,000) lines, on every core.</summary>
    static (int Lines, TimeSpan Took) ReadAndCleanse(string file)
    {
        var lines = File.ReadLines(file).Take(200_000).ToArray();
        var now = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        Parallel.For(0, lines.Length, i =>
        {
            var bytes = Encoding.UTF8.GetBytes(lines[i]);
            RecordCleanser.Cleanse(ChannelPayloads.ReadRecord("crm", bytes, now).Record);
            System.Security.Cryptography.SHA256.HashData(bytes);
        });
        return (lines.Length, clock.Elapsed);
    }
}
