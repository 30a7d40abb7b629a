using Cdp.Shared.Identity;
using Cdp.Tests.Support;
using static Cdp.Tests.Identity.IdentityTestBed;

namespace Cdp.Tests.Identity;

/// <summary>Records of one person or company resolved at the same moment, each on its own connection.</summary>
public class ResolutionRaceTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    private const int Rounds = 20;
    private readonly IdentityTestBed bed = new(db, retry: false);

    /// <summary>Both receipts exist first; then both resolutions are released together.</summary>
    private async Task<(Guid, ResolutionOutcome)[]> Together(params Shared.Ingestion.CustomerRecord[] records)
    {
        var inputs = new List<(Guid Id, Shared.Cleansing.CleanRecord Clean)>();
        foreach (var record in records)
        {
            inputs.Add((await bed.Receipt(record), Clean(record)));
        }

        using var barrier = new Barrier(inputs.Count);
        return await Task.WhenAll(inputs.Select(input => Task.Run(async () =>
        {
            barrier.SignalAndWait();
            return (input.Id, await bed.Resolver.ResolveAsync(input.Id, input.Clean, null, CancellationToken.None));
        })));
    }

    [Fact]
    public async Task SamePersonTwiceAtOnceIsOneContact()
    {
        for (var round = 0; round < Rounds; round++)
        {
            var mobile = TestData.Mobile();
            var email = TestData.Email();

            var results = await Together(Contact(mobile), Contact(mobile, email));

            var ids = await bed.Rows<Guid>("select contact_id from contact where mobile_phone = @mobile or email = @email", new { mobile, email });
            var contactId = Assert.Single(ids);
            Assert.All(results, r => Assert.Equal(contactId, r.Item2.EntityId));
            Assert.Single(results, r => r.Item2.Created);
            foreach (var (ingestionId, _) in results)
            {
                Assert.Equal(("processed", "contact", (Guid?)contactId, (Guid?)null), await bed.ReceiptState(ingestionId));
            }

            Assert.Equal(email, await bed.Scalar<string>("select email from contact where contact_id = @contactId", new { contactId }));
        }
    }

    [Fact]
    public async Task TwoContactsOfOneNewCompanyAtOnceMakeOneAccount()
    {
        for (var round = 0; round < Rounds; round++)
        {
            var company = Word() + "科技有限公司";
            var city = City();

            var results = await Together(
                Contact(TestData.Mobile()) with { Company = company, City = city },
                Contact(TestData.Mobile()) with { Company = company, City = city });

            var accountId = Assert.Single(await bed.Rows<Guid>("select account_id from account where city = @city", new { city }));
            Assert.All(results, r => Assert.Equal(accountId, r.Item2.AccountId));
            Assert.Equal(2L, await bed.Scalar<long>("select count(*) from account_contact_relation where account_id = @accountId", new { accountId }));
        }
    }

    [Fact]
    public async Task TwoSpellingsOfOneNewCompanyInOneCityAtOnceMakeOneAccount()
    {
        for (var round = 0; round < Rounds; round++)
        {
            var word = Word();
            var city = City();

            // Different normalised names (no shared name lock): only the city lock keeps them from both creating.
            var results = await Together(
                Contact(TestData.Mobile()) with { Company = word + "科技有限公司", City = city },
                Contact(TestData.Mobile()) with { Company = word + "科技", City = city });

            var accountId = Assert.Single(await bed.Rows<Guid>("select account_id from account where city = @city", new { city }));
            Assert.All(results, r => Assert.Equal(accountId, r.Item2.AccountId));
        }
    }

    [Fact]
    public async Task SameLeadTwiceAtOnceIsOneLead()
    {
        for (var round = 0; round < Rounds; round++)
        {
            var unionId = TestData.Id("u");

            var results = await Together(
                Lead() with { OpenId = TestData.Id("o"), UnionId = unionId },
                Lead(TestData.Mobile()) with { UnionId = unionId });

            Assert.Single(results.Select(r => r.Item2.EntityId).Distinct());
            Assert.Single(results, r => r.Item2.Created);
        }
    }
}
