using Cdp.Shared.Cleansing;
using Cdp.Shared.Identity;
using Cdp.Shared.Ingestion;
using Cdp.Tests.Support;
using static Cdp.Tests.Identity.IdentityTestBed;

namespace Cdp.Tests.Identity;

/// <summary>
/// The set-based path's cost, counted: records that must follow one another (contacts of one company share its key)
/// take one wave each while waves still decide enough records (the rest of the chain then reads live, in order), and records
/// that share nothing with anyone ride in the first wave, their writes in the same statements, so they add neither
/// round trips nor statements.
/// </summary>
public sealed class BatchWavesTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    const int Chain = 5;

    [Fact]
    public async Task Contacts_of_one_company_take_the_set_based_waves_and_unrelated_records_add_no_round_trips_or_statements()
    {
        var few = await ResolveAsync(independent: 8);
        var many = await ResolveAsync(independent: 40);

        // Wave 1 decides the leads and the first contact; wave 2 only the second contact, too few for a third wave.
        Assert.True(IdentityResolver.MinWaveAdmits > 1);
        Assert.Equal(2, few.Waves);
        Assert.Equal(2, many.Waves);
        Assert.Equal(few.RoundTrips, many.RoundTrips);
        Assert.Equal(few.Statements, many.Statements);
        // The 32 extra leads were written (lead, identity, receipt, summary message each), in the same statements.
        Assert.Equal(32 * 4, many.Rows - few.Rows);
        Assert.Equal(0, many.Fallbacks);
    }

    [Fact]
    public async Task A_wave_compares_only_the_accounts_it_created_again_for_a_later_fuzzy_record_of_the_city()
    {
        // One wave: the account record creates its company; the contact's company is another spelling (no exact
        // match, no shared key), so it reaches the fuzzy rule, whose answer was read before the account existed.
        var bed = new IdentityTestBed(db);
        var word = Word();
        var city = City();
        var account = Account(word + "科技有限公司", city);
        var contact = Contact(TestData.Mobile()) with { Company = word + "科技发展有限公司", City = city };
        var items = new List<(Guid, CleanRecord)> { (await bed.Receipt(account), Clean(account)), (await bed.Receipt(contact), Clean(contact)) };

        var outcomes = await bed.Resolver.ResolveBatchAsync(items, CancellationToken.None);

        Assert.True(outcomes[0].Created);
        Assert.Equal(outcomes[0].EntityId, outcomes[1].AccountId);   // the fuzzy rule found the account the wave created
        Assert.Equal(1, bed.Resolver.BatchWaves);
        Assert.Equal(1, bed.Resolver.FuzzyRechecks);
        Assert.Equal(1L, await bed.Scalar<long>("select count(*) from account where city = @city", new { city }));
    }

    async Task<(int Waves, int RoundTrips, int Statements, int Rows, int Fallbacks)> ResolveAsync(int independent)
    {
        var bed = new IdentityTestBed(db);
        var company = Word();
        var city = City();
        var records = new List<CustomerRecord>();
        for (var n = 0; n < Chain; n++)
        {
            records.Add(Contact(TestData.Mobile()) with { Company = company, City = city, ModifiedAt = T0.AddMinutes(n) });
        }

        for (var n = 0; n < independent; n++)
        {
            // Interleaved with the contacts, each a person of its own.
            records.Insert(Math.Min(records.Count, n * 2), Lead(TestData.Mobile()));
        }

        var items = new List<(Guid, CleanRecord)>();
        foreach (var record in records) items.Add((await bed.Receipt(record), Clean(record)));
        var outcomes = await bed.Resolver.ResolveBatchAsync(items, CancellationToken.None);

        Assert.All(outcomes, o => Assert.Equal(ResolutionOutcome.Processed, o.Status));
        var contacts = outcomes.Where(o => o.EntityType == "contact").ToList();
        Assert.Equal(Chain, contacts.Count);
        Assert.Single(contacts.Select(o => o.AccountId).Distinct());
        Assert.Equal(independent, outcomes.Count(o => o.EntityType == "lead" && o.Created));
        var r = bed.Resolver;
        return (r.BatchWaves, r.BatchRoundTrips, r.BatchStatements, r.BatchRows, r.BatchFallbacks);
    }
}
