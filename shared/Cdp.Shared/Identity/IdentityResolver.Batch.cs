using System.Runtime.ExceptionServices;
using Cdp.Shared.Cleansing;
using Cdp.Shared.Ingestion;
using Cdp.Shared.Telemetry;
using Dapper;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Cdp.Shared.Identity;

public sealed partial class IdentityResolver
{
    /// <summary>
    /// Resolves several records whose ingestion receipts exist, with the outcome of calling
    /// <see cref="ResolveAsync(Guid, CleanRecord, ReviewDecision?, CancellationToken)"/> for each in order (same
    /// entities, identities, reviews, summary and owner messages), and returns the outcomes in input order. Safe to
    /// call again for the same ingestion ids. The caller invalidates the changed customers' views. When a record
    /// fails, the others are still resolved (one by one) and the first error is thrown.
    /// </summary>
    public async Task<IReadOnlyList<ResolutionOutcome>> ResolveBatchAsync(
        IReadOnlyList<(Guid IngestionId, CleanRecord Record)> items, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(items);
        var results = await ResolveEachAsync(items, ct);
        if (results.FirstOrDefault(r => r.Error is not null).Error is { } error)
        {
            ExceptionDispatchInfo.Throw(error);
        }

        return [.. results.Select(r => r.Outcome!)];
    }

    private int batchFallbacks;

    /// <summary>Batches that failed together and were resolved again one by one (tests expect none without a fault).</summary>
    internal int BatchFallbacks => batchFallbacks;

    /// <summary>
    /// Per record its outcome or the error it alone met: the batch is resolved in one transaction, and when that
    /// fails its records are resolved again one by one, so a bad record cannot hold its neighbours back.
    /// </summary>
    internal async Task<IReadOnlyList<(ResolutionOutcome? Outcome, Exception? Error)>> ResolveEachAsync(
        IReadOnlyList<(Guid IngestionId, CleanRecord Record)> items, CancellationToken ct)
    {
        if (items.Count > 1)
        {
            try
            {
                return [.. (await ResolveTogetherAsync(items, ct)).Select(o => ((ResolutionOutcome?)o, (Exception?)null))];
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                // Rolled back as a whole: fall through and find the record that fails (if it was not a passing deadlock).
                Interlocked.Increment(ref batchFallbacks);
                logger?.LogWarning(e, "A batch of {Count} records failed together ({Error}); resolving them one by one", items.Count, e.GetType().Name);
            }
        }

        var results = new List<(ResolutionOutcome?, Exception?)>(items.Count);
        foreach (var (ingestionId, record) in items)
        {
            try
            {
                results.Add((await ResolveAsync(ingestionId, record, null, ct), null));
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                results.Add((null, e));
            }
        }

        return results;
    }

    private int batchWaves, batchRoundTrips, batchStatements, batchRows;

    /// <summary>Waves the set-based path has run: a batch takes as many as its longest chain of records that must follow one another.</summary>
    internal int BatchWaves => batchWaves;

    /// <summary>Round trips of the set-based path before its commit (reads, with the queued writes riding along, and the last flush).</summary>
    internal int BatchRoundTrips => batchRoundTrips;

    /// <summary>Queued statements the set-based path sent (writes, locks, settings; not its reads), and the rows they wrote.</summary>
    internal int BatchStatements => batchStatements;

    internal int BatchRows => batchRows;

    private int fuzzyRechecks;

    /// <summary>Fuzzy answers the set-based path kept from a wave's read and completed by comparing only the accounts the wave changed.</summary>
    internal int FuzzyRechecks => fuzzyRechecks;

    /// <summary>
    /// The set-based path: one transaction, in waves. A wave locks the receipts and every key of its records at once
    /// (in hash order, so batches cannot deadlock on each other) and reads the matches, the matched rows and the
    /// holders of unique values for all of them in three round trips; then decides each record in input order by the
    /// same rules as <see cref="ResolveAsync(Guid, CleanRecord, ReviewDecision?, CancellationToken)"/>, its writes
    /// queued as rows that travel as one statement per kind with the next read or the commit. A record whose reads
    /// may have changed under it waits for the next wave instead of reading live (<see cref="WaveOrder"/>), and so
    /// does every later record it must stay behind; the next wave reads again after this one's writes. After
    /// the last wave that was worth it (<see cref="MinWaveAdmits"/>, <see cref="MaxSetWaves"/>) what still waits reads
    /// live, in input order. The fuzzy rule's answers are read up front too, and read live once the wave created or
    /// changed an account of the city.
    /// </summary>
    async Task<List<ResolutionOutcome>> ResolveTogetherAsync(IReadOnlyList<(Guid IngestionId, CleanRecord Record)> items, CancellationToken ct)
    {
        using var span = CdpTelemetry.Start("identity resolve batch");
        span?.SetTag("cdp.batch.size", items.Count);
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);

        var pending = new Pending();
        var ids = IdsInInputOrder(items.Count);
        var outcomes = new ResolutionOutcome?[items.Count];
        var resolved = new CleanRecord?[items.Count];
        List<int> todo = [.. Enumerable.Range(0, items.Count)];
        var left = new Dictionary<int, CleanRecord>();
        var waves = 0;
        while (todo.Count > 0)
        {
            waves++;
            var wave = todo.Select(i => items[i]).ToList();
            // The previous wave's writes go out ahead of this wave's first read.
            var prefetch = await Prefetch.ReadAsync(conn, tx, wave, pending, options.Value.FuzzyThreshold, ct);
            var order = new WaveOrder(prefetch);
            var deferred = new List<int>();
            for (var w = 0; w < wave.Count; w++)
            {
                var record = prefetch.Records[w];
                var receipt = prefetch.Receipts.GetValueOrDefault(wave[w].IngestionId)
                    ?? throw new InvalidOperationException($"Ingestion receipt {wave[w].IngestionId} does not exist; ingest writes it before publishing.");
                if (receipt.IsOpen && !order.Admit(w))
                {
                    deferred.Add(todo[w]);
                    left[todo[w]] = record;
                    continue;
                }

                var outcome = await ResolveFilteredAsync(conn, tx, wave[w].IngestionId, record, null, reprocessReview: false, ct,
                    pending, new Known(prefetch, w, receipt, ids[todo[w]]));
                if (receipt.IsOpen)
                {
                    order.Resolved(outcome);
                    resolved[todo[w]] = record;
                }

                outcomes[todo[w]] = outcome;
            }

            Interlocked.Add(ref fuzzyRechecks, prefetch.FuzzyRechecks);
            var admitted = wave.Count - deferred.Count;
            todo = deferred;
            if (waves == MaxSetWaves || admitted < MinWaveAdmits) break;
        }

        // What still waits reads live, in input order, after everything decided up front: the same order a further
        // wave would keep, each read exact.
        // The receipt is read again too: a redelivery of an earlier record of the batch finds it processed by then.
        var handled = Enumerable.Range(0, items.Count).Where(i => resolved[i] is not null).Select(i => items[i].IngestionId).ToHashSet();
        foreach (var i in todo)
        {
            var record = left[i];
            outcomes[i] = await ResolveFilteredAsync(conn, tx, items[i].IngestionId, record, null, reprocessReview: false, ct,
                pending, Known.Live(ids[i]));
            if (handled.Add(items[i].IngestionId)) resolved[i] = record;
        }

        await pending.FlushAsync(conn, tx, ct);
        await tx.CommitAsync(ct);
        Interlocked.Add(ref batchWaves, waves);
        Interlocked.Add(ref batchRoundTrips, pending.RoundTrips);
        Interlocked.Add(ref batchStatements, pending.StatementsSent);
        Interlocked.Add(ref batchRows, pending.RowsSent);
        span?.SetTag("cdp.batch.waves", waves);
        for (var i = 0; i < items.Count; i++)
        {
            if (resolved[i] is { } record)
            {
                Count(record, outcomes[i]!);
            }
        }

        return [.. outcomes.Select(o => o!)];
    }

    /// <summary>
    /// Waves before the rest reads live. Every wave reads up front again for all records still waiting (~3 round trips
    /// and a share of the reads per waiting record), and a chain of records sharing a key (contacts of one company) moves
    /// one record per wave, while a record read live costs ~5 round trips: so another wave runs only while the last one
    /// decided at least <see cref="MinWaveAdmits"/> records. On the import bench's crm mix the third and fourth waves
    /// still decide dozens of a chunk's 1,000 records; 18 waves per chunk halved the rate against live reads.
    /// </summary>
    internal const int MaxSetWaves = 6;

    internal const int MinWaveAdmits = 8;

    /// <summary>Most a record creates: an account and a contact, or a review.</summary>
    const int IdsPerRecord = 2;

    /// <summary>Per record, ids for what it creates, ascending (as Postgres orders uuids) in input order.</summary>
    static Queue<Guid>[] IdsInInputOrder(int count)
    {
        var ids = Enumerable.Range(0, count * IdsPerRecord).Select(_ => Guid.CreateVersion7())
            .OrderBy(id => id.ToString(), StringComparer.Ordinal).ToArray();
        return [.. Enumerable.Range(0, count).Select(i => new Queue<Guid>(ids.Skip(i * IdsPerRecord).Take(IdsPerRecord)))];
    }

    /// <summary>
    /// Which records of a wave may be decided on what the wave read up front, in input order; the others wait for the
    /// next wave. A record waits when an earlier record of the wave shares a key with it (waiting or not: records of
    /// one key keep their order), when an earlier record changed an entity its reads rest on, or when an earlier
    /// waiting record may change one of them (it reads them too). The fuzzy rule reads every account of a city, not a
    /// key: a record that may read or change what it compares in a city (<see cref="Prefetch.FuzzyCities"/>) also
    /// waits behind a waiting record that may, in that city or in the cities of the records it shares keys with (an
    /// account one of them creates is found by name). Records that wait for none of these reasons neither read nor
    /// change what the waiting ones do, so deciding them first ends the same as input order; ids, which break ties,
    /// were set aside in input order.
    /// </summary>
    private sealed class WaveOrder(Prefetch prefetch)
    {
        readonly Dictionary<string, HashSet<string>> keys = new(StringComparer.Ordinal);
        readonly HashSet<Guid> waitingOn = [];
        readonly HashSet<string> citiesWaiting = new(StringComparer.Ordinal);

        /// <summary>Whether record <paramref name="i"/> (its receipt open) is decided in this wave; remembers it either way.</summary>
        public bool Admit(int i)
        {
            var own = OrderKeys(prefetch.Records[i]);
            var dependencies = prefetch.DependenciesOf(i).ToList();
            var cities = prefetch.FuzzyCities(i);
            var admit = !own.Any(keys.ContainsKey) && !dependencies.Any(d => prefetch.Touched.Contains(d) || waitingOn.Contains(d))
                && !cities.Any(citiesWaiting.Contains);
            if (!admit)
            {
                waitingOn.UnionWith(prefetch.MayTouch(i));
                citiesWaiting.UnionWith(cities);
                foreach (var key in own) citiesWaiting.UnionWith(keys.GetValueOrDefault(key) ?? []);
            }

            foreach (var key in own)
            {
                if (!keys.TryGetValue(key, out var keyCities)) keys[key] = keyCities = new(StringComparer.Ordinal);
                keyCities.UnionWith(prefetch.AccountCities(i));
            }

            return admit;
        }

        public void Resolved(ResolutionOutcome outcome)
        {
            if (outcome.EntityId is { } entityId) prefetch.Touched.Add(entityId);
            if (outcome.AccountId is { } accountId) prefetch.Touched.Add(accountId);
        }

        /// <summary>
        /// The record's natural keys, and the WeChat ids a contact records as identities without matching on them
        /// (two contacts claiming one id: the first keeps it, so their order matters).
        /// </summary>
        static IReadOnlyList<string> OrderKeys(CleanRecord clean)
        {
            var r = clean.Record;
            var keys = IdentityKeys.For(clean);
            if (r.Kind != EntityKind.Contact || (r.OpenId is null && r.UnionId is null)) return keys;
            return [.. keys, .. new[] { r.OpenId is { } open ? $"contact:openid:{open}" : null, r.UnionId is { } union ? $"contact:unionid:{union}" : null }.OfType<string>()];
        }
    }

    /// <summary>A row read up front: the columns the rules merge, and its field times and sources.</summary>
    private sealed record HeldRow(Dictionary<string, string?> Row, string? FieldTimes, string? FieldSources);

    private static readonly string[] LeadColumns =
        ["lead_name", "company_name", "mobile_phone", "email", "title", "city", "campaign_id", "lead_source", "phone", "phone_type"];

    private static readonly string[] ContactColumns =
        ["contact_name", "mobile_phone", "email", "wechat_id", "wecom_external_user_id", "title", "city", "phone", "phone_type"];

    private static readonly string[] AccountColumns = ["account_name", "name_normalized", "unified_social_credit_code", "city"];

    private static readonly string AccountRowsSql = $"""
        select account_id as id, {string.Join(", ", AccountColumns)}, field_times::text as field_times
        from account where account_id = any(@ids) order by account_id for update
        """;

    /// <summary>What a batch read up front, and which entities its records changed since.</summary>
    private sealed class Prefetch
    {
        public required CleanRecord[] Records { get; init; }
        public Dictionary<Guid, ReceiptRow> Receipts { get; } = [];
        public Dictionary<int, Guid?> People { get; } = [];
        public Dictionary<int, List<AccountMatch>> Accounts { get; } = [];
        public Dictionary<Guid, HeldRow> Rows { get; } = [];
        /// <summary>Per (table, column, value) asked, the entities holding it.</summary>
        public Dictionary<(string Table, string Column, string Value), List<Guid>> Holders { get; } = [];
        /// <summary>Per record that may reach the fuzzy rule, the accounts it would find as the batch began.</summary>
        public Dictionary<int, List<Matching.FuzzyMatch>> Fuzzy { get; } = [];

        /// <summary>
        /// Per city, the accounts a record of the wave created there or changed what the fuzzy rule compares of (name,
        /// city, code; listed under the old city and the new): the prefetched fuzzy answers of the city are exact for
        /// every other account, and these are compared again (<see cref="Known.TryFuzzy"/>).
        /// </summary>
        public Dictionary<string, HashSet<Guid>> FuzzyChanged { get; } = new(StringComparer.Ordinal);

        /// <summary>Fuzzy answers of the wave completed by comparing the changed accounts again (counted for tests).</summary>
        public int FuzzyRechecks { get; set; }

        /// <summary>Reads rows of a row select (id, the merged columns, field times and sources) into <see cref="Rows"/>.</summary>
        public async Task ReadHeldRows(NpgsqlDataReader reader, CancellationToken ct)
        {
            while (await reader.ReadAsync(ct))
            {
                var row = new Dictionary<string, string?>(StringComparer.Ordinal);
                string? fieldTimes = null, fieldSources = null;
                for (var c = 1; c < reader.FieldCount; c++)
                {
                    var value = reader.IsDBNull(c) ? null : reader.GetString(c);
                    switch (reader.GetName(c))
                    {
                        case "field_times": fieldTimes = value; break;
                        case "field_sources": fieldSources = value; break;
                        case var column: row[column] = value; break;
                    }
                }

                Rows[reader.GetGuid(0)] = new HeldRow(row, fieldTimes, fieldSources);
            }
        }

        /// <summary>Entities an earlier record of the batch created or changed: what was read of them is stale.</summary>
        public HashSet<Guid> Touched { get; } = [];

        /// <summary>
        /// Record <paramref name="i"/> resolves an account, none of the match rules found one, and it has what the fuzzy
        /// rule needs: it reads the accounts of its city, and may create one there.
        /// </summary>
        public bool ReachesFuzzy(int i) =>
            Accounts.TryGetValue(i, out var matches) && matches.Count == 0
            && Records[i].CompanyShortName is not null && Records[i].Record.City is not null;

        /// <summary>
        /// The cities whose fuzzy answers record <paramref name="i"/> may read or change, when it may change any: its
        /// own city and its matched accounts' when it reaches the fuzzy rule or may change a matched account's name,
        /// city or credit code (what the fuzzy rule compares); none otherwise.
        /// </summary>
        public IReadOnlyList<string> FuzzyCities(int i)
        {
            if (!Accounts.TryGetValue(i, out var matches)) return [];
            var r = Records[i].Record;
            if (!ReachesFuzzy(i) && !matches.Any(m => ChangesFuzzyFields(r, m))) return [];
            return [.. matches.Select(m => m.City).Append(r.City).OfType<string>().Distinct(StringComparer.Ordinal)];
        }

        /// <summary>
        /// Whether a merge of <paramref name="r"/> into <paramref name="held"/> may change what the fuzzy rule compares
        /// (an account record or a strong match renames; else a company only names a code-only account, whose name is its code).
        /// </summary>
        static bool ChangesFuzzyFields(CustomerRecord r, AccountMatch held) =>
            (r.Company is not null && (r.Kind == EntityKind.Account || held.Rule < 3 ? r.Company != held.Name : held.Name == held.CreditCode))
            || (r.City is not null && r.City != held.City)
            || (r.CreditCode is not null && r.CreditCode != held.CreditCode);

        /// <summary>The cities of an account-resolving record and of its matched accounts (where an account it ends on may be).</summary>
        public IEnumerable<string> AccountCities(int i) =>
            Accounts.TryGetValue(i, out var matches) ? matches.Select(m => m.City).Append(Records[i].Record.City).OfType<string>() : [];

        /// <summary>The entities record <paramref name="i"/> may change: what it rests on, and the accounts its fuzzy rule would find.</summary>
        public IEnumerable<Guid> MayTouch(int i) => DependenciesOf(i).Concat((Fuzzy.GetValueOrDefault(i) ?? []).Select(m => m.AccountId));

        /// <summary>The entities whose state the prefetched answers for record <paramref name="i"/> rest on.</summary>
        public IEnumerable<Guid> DependenciesOf(int i)
        {
            if (People.GetValueOrDefault(i) is { } person) yield return person;
            foreach (var match in Accounts.GetValueOrDefault(i) ?? []) yield return match.AccountId;
            foreach (var (table, column, value) in UniqueValues(Records[i]))
            {
                foreach (var holder in Holders.GetValueOrDefault((table, column, value)) ?? []) yield return holder;
            }
        }

        static IEnumerable<(string Table, string Column, string Value)> UniqueValues(CleanRecord clean)
        {
            var r = clean.Record;
            if (r.Kind == EntityKind.Contact)
            {
                if (r.Mobile is { } mobile) yield return ("contact", "mobile_phone", mobile);
                if (r.Email is { } email) yield return ("contact", "email", email);
                if (r.WeComExternalUserId is { } wecom) yield return ("contact", "wecom_external_user_id", wecom);
            }

            if (r.CreditCode is { } code && r.Kind != EntityKind.Lead) yield return ("account", "unified_social_credit_code", code);
        }

        /// <param name="pending">Writes still queued (an earlier wave's): they go first in the same round trip.</param>
        public static async Task<Prefetch> ReadAsync(
            NpgsqlConnection conn, NpgsqlTransaction tx, IReadOnlyList<(Guid IngestionId, CleanRecord Record)> items, Pending pending,
            double threshold, CancellationToken ct)
        {
            // 1. The receipts, locked, and which of the batch's numbers ever arrived as X numbers.
            var numbers = items.SelectMany(x => new[] { x.Record.Record.Mobile, x.Record.Record.Phone }).OfType<string>().Distinct().ToArray();
            var virtualNumbers = new HashSet<string>(StringComparer.Ordinal);
            var receipts = new List<ReceiptRow>();
            var skip = pending.ResultSets;
            await using (var batch = pending.Take(conn, tx))
            {
                batch.BatchCommands.Add(Run.Command(ReceiptSql, new { ids = items.Select(x => x.IngestionId).Distinct().ToArray() }));
                batch.BatchCommands.Add(Run.Command("select number from virtual_number_seen where number = any(@numbers)", new { numbers }));
                await using var reader = await batch.ExecuteReaderAsync(ct);
                for (var i = 0; i < skip; i++) await reader.NextResultAsync(ct);
                receipts.AddRange(await ReadRows<ReceiptRow>(reader, ct));
                await reader.NextResultAsync(ct);
                while (await reader.ReadAsync(ct)) virtualNumbers.Add(reader.GetString(0));
            }

            var prefetch = new Prefetch
            {
                Records = [.. items.Select(x => WithoutNumbers(x.Record,
                    x.Record.Record.Mobile is { } m && virtualNumbers.Contains(m), x.Record.Record.Phone is { } p && virtualNumbers.Contains(p)))],
            };
            foreach (var receipt in receipts) prefetch.Receipts[receipt.IngestionId] = receipt;
            var open = Enumerable.Range(0, items.Count)
                .Where(i => prefetch.Receipts.GetValueOrDefault(items[i].IngestionId) is { IsOpen: true })
                .Select(i => (I: i, Clean: prefetch.Records[i]))
                .ToList();
            if (open.Count == 0) return prefetch;

            // 2. Every key of the batch locked at once, then the match rules for every record.
            pending.RoundTrips += 2;
            var leads = open.Where(x => x.Clean.Record.Kind == EntityKind.Lead).ToList();
            var contacts = open.Where(x => x.Clean.Record.Kind == EntityKind.Contact).ToList();
            var accounts = open
                .Where(x => x.Clean.Record.Kind == EntityKind.Account || (x.Clean.Record.Kind == EntityKind.Contact && x.Clean.CompanyFullName is not null))
                .Select(x => (x.I, x.Clean, BySourceRecord: x.Clean.Record.Kind == EntityKind.Account))
                .ToList();
            await using (var batch = new NpgsqlBatch(conn, tx))
            {
                batch.BatchCommands.Add(Run.Command(Run.LockSql, new { keys = open.SelectMany(x => IdentityKeys.For(x.Clean)).Distinct().ToArray() }));
                batch.BatchCommands.Add(Run.Command(Matching.Leads, Matching.LeadArgs(leads)));
                batch.BatchCommands.Add(Run.Command(Matching.Contacts, Matching.ContactArgs(contacts, bySourceRecord: true)));
                batch.BatchCommands.Add(Run.Command(Matching.Accounts, Matching.AccountArgs(accounts)));
                await using var reader = await batch.ExecuteReaderAsync(ct);
                await reader.NextResultAsync(ct);
                foreach (var match in await ReadRows<Matching.PersonMatch>(reader, ct)) prefetch.People[match.I] = match.Id;
                await reader.NextResultAsync(ct);
                foreach (var match in await ReadRows<Matching.PersonMatch>(reader, ct)) prefetch.People[match.I] = match.Id;
                await reader.NextResultAsync(ct);
                foreach (var (i, _, _) in accounts) prefetch.Accounts[i] = [];
                foreach (var match in await ReadRows<AccountMatch>(reader, ct)) prefetch.Accounts[match.I].Add(match);
            }

            // 3. The rows the rules will merge into, locked; who holds the batch's unique values; and the cities of
            // records that reach the fuzzy rule (taken after the keys, as the per-record path does).
            var mergedAccounts = new List<Guid>();
            var fuzzy = new List<(int I, CleanRecord Clean)>();
            foreach (var (i, clean, _) in accounts)
            {
                var matches = prefetch.Accounts[i];
                if (matches.FirstOrDefault(m => m.Rule < 3) is { } strong) mergedAccounts.Add(strong.AccountId);
                else if (matches.Count == 1) mergedAccounts.Add(matches[0].AccountId);
                else if (prefetch.ReachesFuzzy(i)) fuzzy.Add((i, clean));
            }

            var asked = open.SelectMany(x => UniqueValues(x.Clean)).Distinct().ToList();
            foreach (var value in asked) prefetch.Holders[value] = [];
            await using (var batch = new NpgsqlBatch(conn, tx))
            {
                batch.BatchCommands.Add(Run.Command(Run.LockSql, new { keys = fuzzy.Select(x => IdentityKeys.City(x.Clean.Record.City!)).Distinct().ToArray() }));
                batch.BatchCommands.Add(Run.Command($"""
                    select lead_id as id, {string.Join(", ", LeadColumns)}, field_times::text as field_times, field_sources::text as field_sources
                    from lead where lead_id = any(@ids) order by lead_id for update
                    """, new { ids = leads.Select(x => prefetch.People.GetValueOrDefault(x.I)).OfType<Guid>().Distinct().ToArray() }));
                batch.BatchCommands.Add(Run.Command($"""
                    select contact_id as id, {string.Join(", ", ContactColumns)}, field_times::text as field_times, field_sources::text as field_sources
                    from contact where contact_id = any(@ids) order by contact_id for update
                    """, new { ids = contacts.Select(x => prefetch.People.GetValueOrDefault(x.I)).OfType<Guid>().Distinct().ToArray() }));
                batch.BatchCommands.Add(Run.Command(AccountRowsSql, new { ids = mergedAccounts.Distinct().ToArray() }));
                // Each unique index probed with its own column's values only.
                string[] Asked(string column) => [.. asked.Where(a => a.Table == "contact" && a.Column == column).Select(a => a.Value)];
                batch.BatchCommands.Add(Run.Command("""
                    select contact_id, mobile_phone, email, wecom_external_user_id from contact
                    where mobile_phone = any(@mobiles) or email = any(@emails) or wecom_external_user_id = any(@wecoms)
                    """, new { mobiles = Asked("mobile_phone"), emails = Asked("email"), wecoms = Asked("wecom_external_user_id") }));
                batch.BatchCommands.Add(Run.Command(
                    "select account_id, unified_social_credit_code from account where unified_social_credit_code = any(@values)",
                    new { values = asked.Where(a => a.Table == "account").Select(a => a.Value).Distinct().ToArray() }));
                batch.BatchCommands.Add(Run.Command(Matching.SimilaritySql, Matching.SimilarityArgs(threshold)));
                // Records of one company in one city ask the same question: asked once, answered to each.
                var asking = fuzzy.GroupBy(x => (x.Clean.CompanyShortName, x.Clean.Record.City, HasCode: x.Clean.Record.CreditCode is not null))
                    .ToDictionary(g => g.First().I, g => g.Select(x => x.I).ToList());
                batch.BatchCommands.Add(Run.Command(Matching.Fuzzy, Matching.FuzzyArgs([.. fuzzy.Where(x => asking.ContainsKey(x.I))], threshold)));
                await using var reader = await batch.ExecuteReaderAsync(ct);
                for (var set = 0; set < 3; set++)
                {
                    await reader.NextResultAsync(ct);
                    await prefetch.ReadHeldRows(reader, ct);
                }

                foreach (var table in new[] { "contact", "account" })
                {
                    await reader.NextResultAsync(ct);
                    while (await reader.ReadAsync(ct))
                    {
                        for (var c = 1; c < reader.FieldCount; c++)
                        {
                            if (!reader.IsDBNull(c)
                                && prefetch.Holders.TryGetValue((table, reader.GetName(c), reader.GetString(c)), out var holders))
                            {
                                holders.Add(reader.GetGuid(0));
                            }
                        }
                    }
                }

                await reader.NextResultAsync(ct);
                await reader.NextResultAsync(ct);
                foreach (var (i, _) in fuzzy) prefetch.Fuzzy[i] = [];
                foreach (var match in await ReadRows<Matching.FuzzyMatch>(reader, ct))
                {
                    foreach (var i in asking[match.I]) prefetch.Fuzzy[i].Add(match);
                }
            }

            // 4. The account a fuzzy rule would merge into (its only candidate), locked like the others.
            var fuzzyMerged = prefetch.Fuzzy.Values.Where(m => m.Count == 1).Select(m => m[0].AccountId).Where(id => !prefetch.Rows.ContainsKey(id))
                .Distinct().ToArray();
            if (fuzzyMerged.Length > 0)
            {
                pending.RoundTrips++;
                await using var batch = new NpgsqlBatch(conn, tx);
                batch.BatchCommands.Add(Run.Command(AccountRowsSql, new { ids = fuzzyMerged }));
                await using var reader = await batch.ExecuteReaderAsync(ct);
                await prefetch.ReadHeldRows(reader, ct);
            }

            return prefetch;
        }

        static async Task<List<T>> ReadRows<T>(NpgsqlDataReader reader, CancellationToken ct)
        {
            var parse = reader.GetRowParser<T>();
            var rows = new List<T>();
            while (await reader.ReadAsync(ct))
            {
                rows.Add(parse(reader));
            }

            return rows;
        }
    }

    /// <summary>One record's view of its batch's <see cref="Prefetch"/>: answers the rules' reads without a round trip.</summary>
    private sealed class Known(Prefetch? batch, int index, ReceiptRow? receipt, Queue<Guid> ids)
    {
        /// <summary>A record that reads everything live (its receipt too) but takes the ids set aside for it.</summary>
        public static Known Live(Queue<Guid> ids) => new(null, -1, null, ids);

        public ReceiptRow? Receipt => receipt;

        /// <summary>The next id set aside for the record (a fresh one should it ever need more).</summary>
        public Guid NextId() => ids.TryDequeue(out var id) ? id : Guid.CreateVersion7();

        public bool TryPerson(out Guid? id)
        {
            id = null;
            return batch is not null && batch.People.TryGetValue(index, out id);
        }

        public bool TryAccounts(out List<AccountMatch> matches)
        {
            matches = batch?.Accounts.GetValueOrDefault(index) ?? [];
            return batch is not null && batch.Accounts.ContainsKey(index);
        }

        /// <summary>A row read up front that no earlier record of the batch has changed since.</summary>
        public bool TryRow(Guid id, IEnumerable<string> columns, out HeldRow row)
        {
            row = batch?.Rows.GetValueOrDefault(id)!;
            return row is not null && !batch!.Touched.Contains(id) && columns.All(row.Row.ContainsKey);
        }

        /// <summary>
        /// The fuzzy rule's answer read up front, less the accounts of the city the wave created or changed since
        /// (<paramref name="changed"/>: the caller compares those again). False when there is none, or when the answer
        /// was cut at the rule's limit and lost an account (the next one down was never read).
        /// </summary>
        public bool TryFuzzy(string city, out List<AccountCandidate> candidates, out IReadOnlyCollection<Guid> changed)
        {
            candidates = [];
            changed = batch?.FuzzyChanged.GetValueOrDefault(city) ?? [];
            if (batch is null || !batch.Fuzzy.TryGetValue(index, out var matches)) return false;
            var unchanged = changed;
            candidates = [.. matches.Where(m => !unchanged.Contains(m.AccountId)).Select(m => m.ToCandidate())];
            return matches.Count < Matching.FuzzyLimit || candidates.Count == matches.Count;
        }

        /// <summary>Counts a fuzzy answer kept from the wave's read and completed by <see cref="Matching.FuzzyAmong"/>.</summary>
        public void FuzzyComparedAgain()
        {
            if (batch is not null) batch.FuzzyRechecks++;
        }

        /// <summary>Account <paramref name="id"/> of these cities was created, or its name, city or code changed.</summary>
        public void AccountChanged(Guid id, params string?[] cities)
        {
            if (batch is null) return;
            foreach (var city in cities.OfType<string>())
            {
                if (!batch.FuzzyChanged.TryGetValue(city, out var ids)) batch.FuzzyChanged[city] = ids = [];
                ids.Add(id);
            }
        }

        /// <summary>Whether an entity other than <paramref name="id"/> holds <paramref name="value"/> (see Run.DropTaken).</summary>
        public bool TryTaken(string table, string column, string value, Guid id, out bool taken)
        {
            taken = false;
            if (batch is null) return false;
            var holders = batch.Holders.GetValueOrDefault((table, column, value));
            taken = holders is not null && holders.Any(h => h != id);
            return holders is not null && !holders.Any(batch.Touched.Contains);
        }
    }
}
