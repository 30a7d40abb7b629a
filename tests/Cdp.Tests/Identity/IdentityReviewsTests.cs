using Cdp.Shared.Access;
using Cdp.Shared.Identity;
using Cdp.Tests.Support;
using static Cdp.Tests.Identity.IdentityTestBed;

namespace Cdp.Tests.Identity;

public class IdentityReviewsTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    private readonly IdentityTestBed bed = new(db);

    /// <summary>An account record with two fuzzy candidates in its (unique) city, waiting in review.</summary>
    private async Task<(Guid IngestionId, Guid ReviewId, Guid A, Guid B)> Ambiguous()
    {
        var word = Word();
        var city = City();
        var a = await bed.InsertAccount(word + "科技有限公司", city);
        var b = await bed.InsertAccount(word + "信息有限公司", city);
        var (ingestionId, outcome) = await bed.Resolve(Account(word, city) with { CreditCode = TestData.CreditCode() });
        Assert.Equal(ResolutionOutcome.Review, outcome.Status);
        return (ingestionId, outcome.ReviewId!.Value, a, b);
    }

    private Task<(string Status, string? Decision, Guid? TargetId, Guid? ResolvedEntityId)> ReviewState(Guid reviewId) =>
        bed.Row<(string, string?, Guid?, Guid?)>(
            "select status, decision, target_id, resolved_entity_id from identity_review where review_id = @reviewId",
            new { reviewId });

    [Fact]
    public async Task MergeLinksTheRecordToTheChosenAccount()
    {
        var (ingestionId, reviewId, a, _) = await Ambiguous();

        var result = await bed.Reviews.ResolveAsync(reviewId, new ReviewDecision.Merge(a), AuditActor.System, CancellationToken.None);

        var outcome = Assert.IsType<ResolveReviewResult.Resolved>(result).Outcome;
        Assert.Equal(new ResolutionOutcome("processed", "account", a, a, null, false), outcome);
        Assert.Equal(("processed", "account", a, reviewId), await bed.ReceiptState(ingestionId));
        Assert.Equal(("resolved", "merge", a, a), await ReviewState(reviewId));
        // The record's source id now finds the account, and its credit code filled the empty one.
        Assert.Equal(1L, await bed.Scalar<long>("select count(*) from account_channel_identity where account_id = @a", new { a }));
        Assert.NotNull(await bed.Row<string?>("select unified_social_credit_code from account where account_id = @a", new { a }));
        Assert.DoesNotContain(await bed.Reviews.ListAsync("open", 1000, CancellationToken.None), r => r.ReviewId == reviewId);
        Assert.Contains(await bed.Reviews.ListAsync("resolved", 1000, CancellationToken.None), r => r.ReviewId == reviewId);
    }

    [Fact]
    public async Task CreateMakesANewAccount()
    {
        var (ingestionId, reviewId, a, b) = await Ambiguous();

        var result = await bed.Reviews.ResolveAsync(reviewId, new ReviewDecision.Create(), AuditActor.System, CancellationToken.None);

        var outcome = Assert.IsType<ResolveReviewResult.Resolved>(result).Outcome;
        Assert.True(outcome.Created);
        Assert.NotNull(outcome.EntityId);
        Assert.DoesNotContain(outcome.EntityId!.Value, new[] { a, b });
        Assert.Equal(("processed", "account", outcome.EntityId, reviewId), await bed.ReceiptState(ingestionId));
        Assert.Equal(("resolved", "create", (Guid?)null, outcome.EntityId), await ReviewState(reviewId));
    }

    [Fact]
    public async Task ResolvingTwiceIsAConflict()
    {
        var (_, reviewId, a, b) = await Ambiguous();
        Assert.IsType<ResolveReviewResult.Resolved>(
            await bed.Reviews.ResolveAsync(reviewId, new ReviewDecision.Merge(a), AuditActor.System, CancellationToken.None));

        var again = await bed.Reviews.ResolveAsync(reviewId, new ReviewDecision.Merge(b), AuditActor.System, CancellationToken.None);

        Assert.IsType<ResolveReviewResult.Conflict>(again);
        Assert.Equal(("resolved", "merge", a, a), await ReviewState(reviewId));
    }

    [Fact]
    public async Task ResolvingConcurrentlySettlesOnce()
    {
        var (_, reviewId, a, b) = await Ambiguous();

        var results = await Task.WhenAll(
            bed.Reviews.ResolveAsync(reviewId, new ReviewDecision.Merge(a), AuditActor.System, CancellationToken.None),
            bed.Reviews.ResolveAsync(reviewId, new ReviewDecision.Merge(b), AuditActor.System, CancellationToken.None));

        Assert.Single(results.OfType<ResolveReviewResult.Resolved>());
        Assert.Single(results.OfType<ResolveReviewResult.Conflict>());
    }

    [Fact]
    public async Task MissingMergeTargetIsInvalidAndLeavesTheReviewOpen()
    {
        var (ingestionId, reviewId, _, _) = await Ambiguous();

        var result = await bed.Reviews.ResolveAsync(reviewId, new ReviewDecision.Merge(Guid.CreateVersion7()), AuditActor.System, CancellationToken.None);

        Assert.IsType<ResolveReviewResult.Invalid>(result);
        Assert.Equal("open", (await ReviewState(reviewId)).Status);
        Assert.Equal("review", (await bed.ReceiptState(ingestionId)).Status);
    }

    [Fact]
    public async Task UnknownReviewIsNotFound()
    {
        Assert.IsType<ResolveReviewResult.NotFound>(
            await bed.Reviews.ResolveAsync(Guid.CreateVersion7(), new ReviewDecision.Create(), AuditActor.System, CancellationToken.None));
    }

    [Fact]
    public async Task RedeliveryOfAReviewedRecordAnswersReview()
    {
        var (ingestionId, reviewId, _, _) = await Ambiguous();
        var record = (await bed.Reviews.ListAsync("open", 1000, CancellationToken.None)).Single(r => r.ReviewId == reviewId).Record;

        var again = await bed.Resolver.ResolveAsync(ingestionId, record, null, CancellationToken.None);

        Assert.Equal(new ResolutionOutcome("review", "account", null, null, reviewId, false), again);
        Assert.Equal(1L, await bed.Scalar<long>("select count(*) from identity_review where ingestion_id = @ingestionId", new { ingestionId }));
    }
}
