using System.Text.Json;
using Cdp.Shared.Cleansing;
using Cdp.Shared.Identity;
using Cdp.Shared.Ingestion;
using Cdp.Tests.Support;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Cdp.Tests.Identity;

/// <summary>
/// The set-based path is the per-record path, only faster: the same 10,000 records resolved one by one
/// (<see cref="IdentityResolver.ResolveAsync(Guid, CleanRecord, ReviewDecision?, CancellationToken)"/>) and in batches
/// (<see cref="IdentityResolver.ResolveBatchAsync"/>), each in a database of its own, end in the same entities,
/// identities, owners, reviews, rejections and queued messages, compared by content and natural keys (ids differ).
/// </summary>
public sealed class BatchResolutionEquivalenceTests : IAsyncLifetime
{
    readonly PostgresDatabase oneByOne = new();
    readonly PostgresDatabase batched = new();
    readonly PostgresDatabase chunked = new();

    public async Task InitializeAsync()
    {
        await oneByOne.InitializeAsync();
        await batched.InitializeAsync();
        await chunked.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        await oneByOne.DisposeAsync();
        await batched.DisposeAsync();
        await chunked.DisposeAsync();
    }

    [Fact]
    public async Task Ten_thousand_records_end_the_same_one_by_one_and_in_batches()
    {
        var items = ResolutionWorkload.Build(10_000, seed: 20261126);

        var expected = await RunAsync(oneByOne, items, async (resolver, work) =>
        {
            var outcomes = new List<ResolutionOutcome>();
            foreach (var (id, clean) in work) outcomes.Add(await resolver.ResolveAsync(id, clean, null, CancellationToken.None));
            return outcomes;
        });
        var fallbacks = 0;
        // The consumers' batches of 64, and an import's chunks of 1,000 (whose records share keys and cities far more).
        var actual = await RunAsync(batched, items, Batches(64));
        var inChunks = await RunAsync(chunked, items, Batches(1_000));

        // Every batch went the set-based way (none was redone one record at a time), and the mix exercises what it should.
        Assert.Equal(0, fallbacks);
        Assert.Contains(expected.Receipts, r => r.StartsWith("review", StringComparison.Ordinal));
        Assert.Contains(expected.Receipts, r => r.StartsWith("rejected", StringComparison.Ordinal));
        Assert.True(expected.Accounts.Count > 250 && expected.Contacts.Count > 1000 && expected.Leads.Count > 500,
            $"{expected.Accounts.Count} accounts, {expected.Contacts.Count} contacts, {expected.Leads.Count} leads");

        SameEnd(expected, actual, "batches of 64");
        SameEnd(expected, inChunks, "chunks of 1,000");

        Func<IdentityResolver, List<(Guid, CleanRecord)>, Task<List<ResolutionOutcome>>> Batches(int size) => async (resolver, work) =>
        {
            var outcomes = new List<ResolutionOutcome>();
            foreach (var chunk in work.Chunk(size)) outcomes.AddRange(await resolver.ResolveBatchAsync(chunk, CancellationToken.None));
            fallbacks += resolver.BatchFallbacks;
            return outcomes;
        };
    }

    /// <summary>The same entities, identities, owners, messages, reviews, receipts and outcomes as one by one.</summary>
    static void SameEnd(Snapshot expected, Snapshot actual, string how)
    {
        Same(expected.Accounts, actual.Accounts, $"accounts ({how})");
        Same(expected.Contacts, actual.Contacts, $"contacts ({how})");
        Same(expected.Leads, actual.Leads, $"leads ({how})");
        Same(expected.Owners, actual.Owners, $"customer owners ({how})");
        Same(expected.Messages, actual.Messages, $"queued messages ({how})");
        Same(expected.Reviews, actual.Reviews, $"reviews ({how})");
        Same(expected.Receipts, actual.Receipts, $"receipts ({how})");
        Same(expected.Outcomes, actual.Outcomes, $"outcomes, in input order ({how})");
    }

    static void Same(IReadOnlyList<string> expected, IReadOnlyList<string> actual, string what)
    {
        var missing = expected.Except(actual).Take(3).ToList();
        var extra = actual.Except(expected).Take(3).ToList();
        Assert.True(expected.SequenceEqual(actual),
            $"{what}: {expected.Count} one by one, {actual.Count} in batches; only one by one: {string.Join(" / ", missing)}; only in batches: {string.Join(" / ", extra)}");
    }

    sealed record Snapshot(
        List<string> Accounts, List<string> Contacts, List<string> Leads, List<string> Owners, List<string> Messages,
        List<string> Reviews, List<string> Receipts, List<string> Outcomes);

    static async Task<Snapshot> RunAsync(
        PostgresDatabase db, List<ResolutionWorkload.Item> items,
        Func<IdentityResolver, List<(Guid, CleanRecord)>, Task<List<ResolutionOutcome>>> resolve)
    {
        var resolver = new IdentityResolver(db.DataSource, Options.Create(new IdentityOptions()));
        var ingestionIds = items.Select(i => i.Delivery).Distinct().ToDictionary(d => d, _ => Guid.CreateVersion7());
        await using (var conn = await db.DataSource.OpenConnectionAsync())
        {
            await conn.ExecuteAsync("insert into virtual_number_seen (number) select unnest(@numbers)", new { numbers = ResolutionWorkload.VirtualNumbers });
            var first = items.DistinctBy(i => i.Delivery).ToList();
            await conn.ExecuteAsync("""
                insert into ingestion_receipt (ingestion_id, channel, source_id, body_hash, payload)
                select id, channel, source_id, id::text, '{}' from unnest(@ids, @channels, @sources) as r(id, channel, source_id)
                """, new
                {
                    ids = first.Select(i => ingestionIds[i.Delivery]).ToArray(),
                    channels = first.Select(i => i.Record.Channel).ToArray(),
                    sources = first.Select(i => i.Record.SourceId).ToArray(),
                });
        }

        // The cleanser decides rejections the same way for both paths; they are settled as ingestion settles them.
        var work = new List<(Guid, CleanRecord)>();
        foreach (var item in items)
        {
            var result = RecordCleanser.Cleanse(item.Record);
            if (result.Clean is { } clean) work.Add((ingestionIds[item.Delivery], clean));
            else await IngestionReceipts.SettleAsync(db.DataSource, ingestionIds[item.Delivery], "rejected", result.Errors, CancellationToken.None);
        }

        var outcomes = await resolve(resolver, work);
        return await SnapshotAsync(db.DataSource, items, ingestionIds, outcomes);
    }

    /// <summary>Every entity as its content and natural keys, with the entities it points at resolved the same way.</summary>
    static async Task<Snapshot> SnapshotAsync(
        NpgsqlDataSource db, List<ResolutionWorkload.Item> items, Dictionary<int, Guid> ingestionIds, List<ResolutionOutcome> outcomes)
    {
        await using var conn = await db.OpenConnectionAsync();
        var names = new Dictionary<Guid, string>();
        async Task<List<string>> Named(string sql)
        {
            var rows = (await conn.QueryAsync<(Guid Id, string Content)>(sql)).ToList();
            foreach (var (id, content) in rows) names[id] = content;
            return [.. rows.Select(r => r.Content).Order(StringComparer.Ordinal)];
        }
        string Name(Guid? id) => id is { } known ? names.GetValueOrDefault(known, "?" + known) : "-";

        var accounts = await Named("""
            select a.account_id, jsonb_build_object('name', account_name, 'full', name_normalized, 'short', name_short,
                       'code', unified_social_credit_code, 'verified', credit_code_verified, 'city', city, 'times', field_times)::text
                   || ' ids ' || coalesce((select string_agg(concat_ws(':', channel_id, channel_account_id, first_seen_at, last_seen_at), ','
                                                            order by channel_id, channel_account_id)
                                           from account_channel_identity i where i.account_id = a.account_id), '')
            from account a
            """);
        var leads = await Named("""
            select l.lead_id, jsonb_build_object('name', lead_name, 'company', company_name, 'mobile', mobile_phone, 'email', email,
                       'title', title, 'city', city, 'channel', channel_id, 'campaign', campaign_id, 'source', lead_source,
                       'phone', phone, 'phoneType', phone_type, 'status', lead_status, 'times', field_times, 'sources', field_sources)::text
                   || ' ids ' || coalesce((select string_agg(concat_ws(':', channel_id, identity_type, channel_user_id, captured_at, last_seen_at,
                                                                       utm_source, utm_campaign), ',' order by channel_id, identity_type, channel_user_id)
                                           from lead_channel_identity i where i.lead_id = l.lead_id), '')
            from lead l
            """);
        var contactRows = (await conn.QueryAsync<(Guid Id, string Content, Guid? Account)>("""
            select c.contact_id, jsonb_build_object('name', contact_name, 'mobile', mobile_phone, 'email', email, 'wechat', wechat_id,
                       'wecom', wecom_external_user_id, 'title', title, 'city', city, 'phone', phone, 'phoneType', phone_type,
                       'times', field_times, 'sources', field_sources)::text
                   || ' ids ' || coalesce((select string_agg(concat_ws(':', channel_id, identity_type, channel_user_id, first_seen_at, last_seen_at),
                                                            ',' order by channel_id, identity_type, channel_user_id)
                                           from contact_channel_identity i where i.contact_id = c.contact_id), ''),
                   c.primary_account_id
            from contact c
            """)).ToList();
        var relations = (await conn.QueryAsync<(Guid Contact, Guid Account, string? Role)>(
            "select contact_id, account_id, role_in_account from account_contact_relation")).ToLookup(r => r.Contact);
        foreach (var (id, content, account) in contactRows)
        {
            names[id] = $"{content} account {Name(account)} in "
                + string.Join(",", relations[id].Select(r => $"{Name(r.Account)}/{r.Role}").Order(StringComparer.Ordinal));
        }

        var contacts = contactRows.Select(c => names[c.Id]).Order(StringComparer.Ordinal).ToList();
        var owners = (await conn.QueryAsync<(string Type, Guid Entity, string Staff, string Source, string? Ref, DateTimeOffset? Since)>(
                "select entity_type, entity_id, staff_user_id, source, source_ref, since from customer_owner"))
            .Select(o => $"{o.Type} {Name(o.Entity)} {o.Staff} {o.Source} {o.Ref} {o.Since:O}").Order(StringComparer.Ordinal).ToList();
        var messages = (await conn.QueryAsync<(string Topic, string Payload)>("select topic, payload::jsonb::text from topic_message"))
            .Select(m => $"{m.Topic} {Rename(m.Payload, Name)}").Order(StringComparer.Ordinal).ToList();

        var byIngestion = ingestionIds.ToDictionary(p => p.Value, p => p.Key);
        var reviews = (await conn.QueryAsync<(Guid IngestionId, string Type, string Record, string Candidates, string Status)>(
                "select ingestion_id, entity_type, record::text, candidates::text, status from identity_review"))
            .Select(r => $"#{byIngestion[r.IngestionId]} {r.Type} {r.Status} {r.Record} {Rename(r.Candidates, Name)}")
            .Order(StringComparer.Ordinal).ToList();
        var receipts = (await conn.QueryAsync<(Guid IngestionId, string Status, string? Type, Guid? Entity, Guid? Account, bool? Created, string Errors)>(
                "select ingestion_id, status, entity_type, entity_id, account_id, entity_created, errors::text from ingestion_receipt"))
            .Select(r => $"{r.Status} #{byIngestion[r.IngestionId]} {r.Type} {Name(r.Entity)} {Name(r.Account)} {r.Created} {r.Errors}")
            .Order(StringComparer.Ordinal).ToList();
        var outcomeNames = outcomes.Select(o => $"{o.Status} {o.EntityType} {Name(o.EntityId)} {Name(o.AccountId)} {o.Created} {o.ReviewId is not null}").ToList();
        return new Snapshot(accounts, contacts, leads, owners, messages, reviews, receipts, outcomeNames);
    }

    /// <summary>A JSON document with every id replaced by the content of the entity it names.</summary>
    static string Rename(string json, Func<Guid?, string> name)
    {
        using var document = JsonDocument.Parse(json);
        return Walk(document.RootElement);

        string Walk(JsonElement e) => e.ValueKind switch
        {
            JsonValueKind.Object => "{" + string.Join(",", e.EnumerateObject().Select(p => $"{p.Name}:{Walk(p.Value)}")) + "}",
            JsonValueKind.Array => "[" + string.Join(",", e.EnumerateArray().Select(Walk)) + "]",
            JsonValueKind.String when Guid.TryParse(e.GetString(), out var id) => name(id),
            // A message key: "account:<id>".
            JsonValueKind.String when e.GetString() is { } text && text.IndexOf(':', StringComparison.Ordinal) is var colon and > 0
                && Guid.TryParse(text[(colon + 1)..], out var keyed) => text[..colon] + ":" + name(keyed),
            _ => e.GetRawText(),
        };
    }
}
