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
    public async Task AnUnverifiedCreditCodeIsKeptAndMarked()
    {
        var code = TestData.UnverifiedCreditCode();
        var outcome = await bed.ResolveProcessed(Account(Word() + "科技有限公司", City(), code));

        Assert.True(outcome.Created);
        Assert.Equal((code, false), await bed.Row<(string, bool)>(
            "select unified_social_credit_code, credit_code_verified from account where account_id = @EntityId", outcome));
        Assert.True(await bed.Scalar<bool>("select credit_code_verified from account where account_id = @EntityId",
            await bed.ResolveProcessed(Account(Word() + "科技有限公司", City(), TestData.CreditCode()))));
    }

    [Fact]
    public async Task AnUnverifiedCreditCodeAloneGoesToReviewInsteadOfMerging()
    {
        var code = TestData.UnverifiedCreditCode();
        var first = await bed.ResolveProcessed(Account(Word() + "科技有限公司", City(), code));

        var (ingestionId, outcome) = await bed.Resolve(Account(Word() + "贸易有限公司", City(), code));

        Assert.Equal(ResolutionOutcome.Review, outcome.Status);
        var candidates = await bed.Scalar<string>("select candidates::text from identity_review where review_id = @ReviewId", outcome);
        Assert.Contains(first.EntityId!.Value.ToString(), candidates);
        Assert.Equal(1L, await bed.Scalar<long>("select count(*) from account where unified_social_credit_code = @code", new { code }));

        // A reviewer who keeps them apart gets a second account; the code stays with the first one.
        var created = Assert.IsType<ResolveReviewResult.Resolved>(await bed.Reviews.ResolveAsync(
            outcome.ReviewId!.Value, new ReviewDecision.Create(), Cdp.Shared.Access.AuditActor.System, CancellationToken.None)).Outcome;
        Assert.True(created.Created);
        Assert.Null(await bed.Row<string?>("select unified_social_credit_code from account where account_id = @EntityId", created));
        Assert.Equal(("processed", "account", created.EntityId, outcome.ReviewId), await bed.ReceiptState(ingestionId));
    }

    [Fact]
    public async Task TheSameSourceRecordWithAnUnverifiedCodeStillMerges()
    {
        var code = TestData.UnverifiedCreditCode();
        var record = Account(Word() + "科技有限公司", City(), code);
        var first = await bed.ResolveProcessed(record);

        var again = await bed.ResolveProcessed(record with { City = "上海" });

        Assert.Equal((first.EntityId, false), (again.EntityId, again.Created));
    }

    [Fact]
    public async Task AVerifiedCodeReplacingAnUnverifiedOneIsMarkedVerified()
    {
        var record = Account(Word() + "科技有限公司", City(), TestData.UnverifiedCreditCode());
        var first = await bed.ResolveProcessed(record);
        var fixedCode = TestData.CreditCode();

        await bed.ResolveProcessed(record with { CreditCode = fixedCode, ModifiedAt = T0.AddDays(1) });

        Assert.Equal((fixedCode, true), await bed.Row<(string, bool)>(
            "select unified_social_credit_code, credit_code_verified from account where account_id = @EntityId", first));
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
