using Cdp.Shared.Identity;
using Cdp.Tests.Support;
using static Cdp.Tests.Identity.IdentityTestBed;

namespace Cdp.Tests.Identity;

public class AccountResolutionTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    private readonly IdentityTestBed bed = new(db);

    [Fact]
    public async Task NewCompanyIsCreated()
    {
        var city = City();
        var outcome = await bed.ResolveProcessed(Account(Word() + "科技有限公司", city));

        Assert.True(outcome.Created);
        Assert.Equal("account", outcome.EntityType);
        Assert.Equal(outcome.EntityId, outcome.AccountId);
        Assert.Equal(city, await bed.Scalar<string>("select city from account where account_id = @EntityId", outcome));
    }

    [Fact]
    public async Task CreditCodeBeatsName()
    {
        var city = City();
        var code = TestData.CreditCode();
        var byCode = await bed.InsertAccount(Word() + "科技有限公司", city, code);
        var otherName = Word() + "贸易有限公司";
        var byName = await bed.InsertAccount(otherName, city);

        var outcome = await bed.ResolveProcessed(Account(otherName, city, code));

        Assert.Equal(byCode, outcome.EntityId);
        Assert.NotEqual(byName, outcome.EntityId);
        Assert.False(outcome.Created);
        // An account record from the ERP speaks for the account: its name is the newest.
        Assert.Equal(otherName, await bed.Scalar<string>("select account_name from account where account_id = @byCode", new { byCode }));
    }

    [Fact]
    public async Task ExactNormalisedNameMatchesWhateverTheCity()
    {
        var word = Word();
        var existing = await bed.ResolveProcessed(Account(word + "科技（深圳）有限公司", City()));

        // Full-width brackets and stray spaces are the same legal name once normalised.
        var outcome = await bed.ResolveProcessed(Account(" " + word + "科技【深圳】 有限公司", City()));

        Assert.Equal(existing.EntityId, outcome.EntityId);
        Assert.False(outcome.Created);
    }

    [Fact]
    public async Task DifferentCreditCodeIsNeverMatchedByName()
    {
        var name = Word() + "科技有限公司";
        var city = City();
        var existing = await bed.InsertAccount(name, city, TestData.CreditCode());

        var outcome = await bed.ResolveProcessed(Account(name, city, TestData.CreditCode()));

        Assert.NotEqual(existing, outcome.EntityId);
        Assert.True(outcome.Created);
    }

    [Fact]
    public async Task FuzzyShortNameInTheSameCityMerges()
    {
        var city = City();
        var existing = await bed.ResolveProcessed(Account("上海腾讯科技有限公司", city));

        // similarity('腾讯科技', '腾迅科技') = 0.25, above the 0.2 threshold.
        var outcome = await bed.ResolveProcessed(Account("腾迅科技", city) with { ModifiedAt = T0.AddDays(1) });

        Assert.Equal(existing.EntityId, outcome.EntityId);
        Assert.False(outcome.Created);
        // A fuzzy match never renames the account after the typo.
        Assert.Equal("上海腾讯科技有限公司", await bed.Scalar<string>("select account_name from account where account_id = @EntityId", existing));
    }

    [Fact]
    public async Task SameShortNameInAnotherCityIsANewAccount()
    {
        var word = Word();
        var existing = await bed.ResolveProcessed(Account("上海" + word + "科技有限公司", City()));

        var outcome = await bed.ResolveProcessed(Account(word + "科技", City()));

        Assert.NotEqual(existing.EntityId, outcome.EntityId);
        Assert.True(outcome.Created);
    }

    [Fact]
    public async Task WithoutACityThereIsNoFuzzyMatch()
    {
        var word = Word();
        var city = City();
        var existing = await bed.ResolveProcessed(Account("上海" + word + "科技有限公司", city));

        var outcome = await bed.ResolveProcessed(Account(word + "科技", city: null));

        Assert.NotEqual(existing.EntityId, outcome.EntityId);
    }

    [Fact]
    public async Task TwoSimilarAccountsInOneCityGoToReview()
    {
        var word = Word();
        var city = City();
        var a = await bed.InsertAccount(word + "科技有限公司", city);
        var b = await bed.InsertAccount(word + "信息有限公司", city);
        var record = Account(word, city);

        var (ingestionId, outcome) = await bed.Resolve(record);

        Assert.Equal(ResolutionOutcome.Review, outcome.Status);
        Assert.Equal("account", outcome.EntityType);
        Assert.Null(outcome.EntityId);
        Assert.NotNull(outcome.ReviewId);
        var receipt = await bed.ReceiptState(ingestionId);
        Assert.Equal(("review", "account", (Guid?)null, outcome.ReviewId), receipt);

        var review = (await bed.Reviews.ListAsync("open", 1000, CancellationToken.None)).Single(r => r.ReviewId == outcome.ReviewId);
        Assert.Equal(ingestionId, review.IngestionId);
        Assert.Equal(record.SourceId, review.Record.Record.SourceId);
        Assert.Equal([a, b], review.Candidates.Select(c => c.AccountId).Order());
        Assert.All(review.Candidates, c => Assert.Equal(city, c.City));
        Assert.All(review.Candidates, c => Assert.InRange(c.Similarity, 0.2, 1.0));
    }

    [Fact]
    public async Task TwoAccountsWithTheSameNormalisedNameGoToReview()
    {
        var name = Word() + "科技有限公司";
        await bed.InsertAccount(name, City());
        await bed.InsertAccount(name, City());

        var (_, outcome) = await bed.Resolve(Account(name, City()));

        Assert.Equal(ResolutionOutcome.Review, outcome.Status);
    }

    [Fact]
    public async Task SameSourceRecordIsAnUpdate()
    {
        var city = City();
        var first = Account(Word() + "科技有限公司", city);
        var created = await bed.ResolveProcessed(first);

        // Renamed at the source: no name rule would find it, the source id does.
        var renamed = Word() + "集团有限公司";
        var outcome = await bed.ResolveProcessed(first with { Company = renamed, ModifiedAt = T0.AddDays(1) });

        Assert.Equal(created.EntityId, outcome.EntityId);
        Assert.Equal(renamed, await bed.Scalar<string>("select account_name from account where account_id = @EntityId", created));
    }
}
