using System.Text.Json;
using Cdp.Shared;
using Cdp.Shared.Identity;
using Cdp.Shared.Ingestion;
using Cdp.Shared.Messaging;
using Cdp.Tests.Support;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Cdp.Tests.Imports;

/// <summary>
/// A host whose data-ingestion and identity-resolution consumers are off (per topic: Topics:ConsumersEnabled is read
/// while services are registered, before a test host's settings apply): the test drives those stages itself, in file order.
/// </summary>
public sealed class StagedPipelineApp : CdpApp
{
    protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings =>
        base.ExtraSettings.Concat(new Dictionary<string, string?>
        {
            [$"Topics:{Topics.DataIngestion}:Enabled"] = "false",
            [$"Topics:{Topics.IdentityResolution}:Enabled"] = "false",
        });
}

/// <summary>
/// Issue 14's equivalence: 10,000 generated records (<see cref="RecordMix"/>) through signed webhooks and the
/// per-record pipeline (data-ingestion, then identity-resolution, one record after another in file order) on one
/// database, and through bulk imports on another, give the same entities, identities, reviews and rejections.
/// </summary>
public sealed class ImportEquivalenceTests
{
    // CDP_EQUIVALENCE_RECORDS runs a smaller mix while chasing a difference.
    static readonly int Records = int.TryParse(Environment.GetEnvironmentVariable("CDP_EQUIVALENCE_RECORDS"), out var n) ? n : 10_000;

    [Fact]
    public async Task Ten_thousand_records_through_webhooks_and_through_an_import_give_the_same_entities_identities_reviews_and_rejections()
    {
        var mix = RecordMix.Build(Records);
        // One import per channel; the webhook side takes the records in the same order (erp first, then crm).
        var ordered = mix.Where(r => r.Channel == "erp").Concat(mix.Where(r => r.Channel == "crm")).ToList();
        Assert.True(mix.Select(r => r.Json()).Distinct().Count() < Records, "the mix holds resends");

        var webhooks = new StagedPipelineApp();
        await webhooks.InitializeAsync();
        try
        {
            await ThroughWebhooksAsync(webhooks, ordered);
            var expected = await SnapshotAsync(webhooks.Database.ConnectionString);

            var imports = new CdpApp();
            await imports.InitializeAsync();
            try
            {
                foreach (var channel in new[] { "erp", "crm" })
                {
                    var status = await ImportApp.ImportAsync(imports.Client, channel, "application/x-ndjson",
                        RecordMix.Ndjson(ordered.Where(r => r.Channel == channel)), TimeSpan.FromMinutes(10));
                    Assert.Equal(0, status.GetProperty("failed").GetInt32());
                }
                var actual = await SnapshotAsync(imports.Database.ConnectionString);

                Assert.True(expected["reviews"].Count > 0, "the mix sends some records to review");
                Assert.Contains(expected["receipts"], r => r.Contains("|rejected|", StringComparison.Ordinal));
                // The earliest receipt (by source version) that differs is where the two runs parted.
                var firstDifference = expected["receipts"].Except(actual["receipts"]).Concat(actual["receipts"].Except(expected["receipts"]))
                    .OrderBy(r => r.Split('|')[2], StringComparer.Ordinal).Take(4).ToList();
                Assert.True(firstDifference.Count == 0, "first differing receipts: " + string.Join(" ;; ", firstDifference)
                    + "\nwebhooks resolved: " + await OrderAsync(webhooks) + "\nimport resolved: " + await OrderAsync(imports));
                foreach (var (what, rows) in expected)
                {
                    var missing = rows.Except(actual[what]).Take(3).ToList();
                    var extra = actual[what].Except(rows).Take(3).ToList();
                    Assert.True(rows.SequenceEqual(actual[what]),
                        $"{what}: {rows.Count} through webhooks, {actual[what].Count} through the import; only webhooks: {string.Join(" ; ", missing)}; only import: {string.Join(" ; ", extra)}");
                }
            }
            finally
            {
                await imports.DisposeAsync();
            }
        }
        finally
        {
            await webhooks.DisposeAsync();
        }
    }

    /// <summary>Signed pushes (202), then the data-ingestion and identity-resolution handlers, each in file order.</summary>
    static async Task ThroughWebhooksAsync(CdpApp app, List<MixRecord> ordered)
    {
        var ids = new (Guid Id, bool Duplicate)[ordered.Count];
        await Parallel.ForAsync(0, ordered.Count, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, _) =>
            ids[i] = await CdpApp.IngestAsync(app.Client, ordered[i].Channel, ordered[i].Json()));

        var ingestion = ActivatorUtilities.CreateInstance<ProcessIngestion>(app.Services);
        var identity = ActivatorUtilities.CreateInstance<IdentityResolutionConsumer>(app.Services);
        var first = new HashSet<Guid>();
        for (var i = 0; i < ordered.Count; i++)
        {
            if (!first.Add(ids[i].Id)) continue;   // a resend: the pipeline has its first receipt already
            var payload = JsonSerializer.Serialize(new IngestionQueued(ids[i].Id, ordered[i].Channel), CdpJson.Options);
            await ingestion.HandleAsync(new TopicMessage(i, Topics.DataIngestion, "k", payload, 0, DateTimeOffset.UtcNow), CancellationToken.None);
        }

        await using var db = NpgsqlDataSource.Create(app.Database.ConnectionString);
        var messages = (await db.CreateConnection().QueryAsync<(long Id, string Payload)>(
            "select message_id, payload::text from topic_message where topic = @topic order by message_id", new { topic = Topics.IdentityResolution })).ToList();
        foreach (var (id, payload) in messages)
            await identity.HandleAsync(new TopicMessage(id, Topics.IdentityResolution, "k", payload, 0, DateTimeOffset.UtcNow), CancellationToken.None);
        Assert.Equal(0, await db.CreateConnection().QuerySingleAsync<long>("select count(*) from ingestion_receipt where status = 'queued'"));
    }

    static async Task<string> OrderAsync(CdpApp app)
    {
        await using var db = NpgsqlDataSource.Create(app.Database.ConnectionString);
        await using var conn = await db.OpenConnectionAsync();
        return string.Join(", ", await conn.QueryAsync<string>(
            "select source_id || ':' || status || ':' || coalesce(entity_created::text, '') from ingestion_receipt where channel = 'erp' order by processed_at, ingestion_id limit 12"));
    }

    /// <summary>What the records became, without ids or clock times: sorted canonical rows per kind.</summary>
    static async Task<Dictionary<string, List<string>>> SnapshotAsync(string connectionString)
    {
        const string AccountKey = "a.name_normalized || '|' || coalesce(a.unified_social_credit_code, '')";
        const string ContactKey = "coalesce(c.contact_name, '') || '|' || coalesce(c.mobile_phone, '') || '|' || coalesce(c.email, '')";
        const string LeadKey = "coalesce(l.lead_name, '') || '|' || coalesce(l.mobile_phone, '') || '|' || coalesce(l.company_name, '')";
        var queries = new Dictionary<string, string>
        {
            ["accounts"] = "select (to_jsonb(a) - array['account_id','created_at','updated_at','shard_id'])::text from account a",
            ["contacts"] = $"""
                select (to_jsonb(c) - array['contact_id','created_at','updated_at','shard_id','primary_account_id'])::text || ' @ ' || coalesce({AccountKey}, '')
                from contact c left join account a on a.account_id = c.primary_account_id
                """,
            ["leads"] = "select (to_jsonb(l) - array['lead_id','created_at','updated_at','shard_id','lead_score','lead_grade','score_reasons'])::text from lead l",
            ["account identities"] = $"select i.channel_id || '|' || i.channel_account_id || '|' || i.is_verified || ' @ ' || {AccountKey} from account_channel_identity i join account a using (account_id)",
            ["contact identities"] = $"select i.channel_id || '|' || i.identity_type || '|' || i.channel_user_id || '|' || i.is_verified || ' @ ' || {ContactKey} from contact_channel_identity i join contact c using (contact_id)",
            ["lead identities"] = $"select (to_jsonb(i) - array['identity_id','lead_id','first_seen_at','last_seen_at'])::text || ' @ ' || {LeadKey} from lead_channel_identity i join lead l using (lead_id)",
            ["relations"] = $"select {AccountKey} || ' ~ ' || {ContactKey} || '|' || coalesce(r.role_in_account, '') || '|' || r.is_primary_contact from account_contact_relation r join account a using (account_id) join contact c using (contact_id)",
            ["receipts"] = $"""
                select r.channel || '|' || r.source_id || '|' || r.source_version || '|' || r.status || '|' || coalesce(r.entity_type, '') || '|'
                       || r.errors::text || '|' || coalesce(r.entity_created::text, '') || ' @ ' || coalesce({AccountKey}, {ContactKey}, {LeadKey}, '')
                from ingestion_receipt r
                left join account a on r.entity_type = 'account' and a.account_id = r.entity_id
                left join contact c on r.entity_type = 'contact' and c.contact_id = r.entity_id
                left join lead l on r.entity_type = 'lead' and l.lead_id = r.entity_id
                """,
            ["reviews"] = """
                select v.entity_type || '|' || v.status || '|' || r.channel || '|' || r.source_id || '|' || r.source_version || '|'
                       || (select string_agg(x->>'name', ',' order by x->>'name') from jsonb_array_elements(v.candidates) x)
                from identity_review v join ingestion_receipt r using (ingestion_id)
                """,
        };
        await using var db = NpgsqlDataSource.Create(connectionString);
        await using var conn = await db.OpenConnectionAsync();
        var snapshot = new Dictionary<string, List<string>>();
        foreach (var (what, sql) in queries)
            snapshot[what] = (await conn.QueryAsync<string>(sql)).Order(StringComparer.Ordinal).ToList();
        return snapshot;
    }
}
