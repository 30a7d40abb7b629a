using Cdp.Shared.Access;
using Cdp.Shared.Identity;
using Cdp.Tests.Support;
using static Cdp.Tests.Identity.IdentityTestBed;

namespace Cdp.Tests.Identity;

public class ContactResolutionTests(PostgresDatabase db) : IClassFixture<PostgresDatabase>
{
    private readonly IdentityTestBed bed = new(db);

    private Task<string?> Email(Guid? contactId) =>
        bed.Row<string?>("select email from contact where contact_id = @contactId", new { contactId });

    [Fact]
    public async Task NewPersonIsCreated()
    {
        var outcome = await bed.ResolveProcessed(Contact(TestData.Mobile()));

        Assert.True(outcome.Created);
        Assert.Equal("contact", outcome.EntityType);
        Assert.Null(outcome.AccountId);
    }

    [Fact]
    public async Task MobileBeatsEmailAndNeverTakesAnotherContactsEmail()
    {
        var a = await bed.ResolveProcessed(Contact(TestData.Mobile(), TestData.Email()) with { Name = "甲" });
        var aMobile = await bed.Scalar<string>("select mobile_phone from contact where contact_id = @EntityId", a);
        var aEmail = await Email(a.EntityId);
        var bEmail = TestData.Email();
        var b = await bed.ResolveProcessed(Contact(TestData.Mobile(), bEmail) with { Name = "乙" });

        // Newer, so every field would win if the email were free.
        var outcome = await bed.ResolveProcessed(Contact(aMobile, bEmail) with { Name = "甲2", ModifiedAt = T0.AddDays(1) });

        Assert.Equal(a.EntityId, outcome.EntityId);
        Assert.Equal(aEmail, await Email(a.EntityId));
        Assert.Equal(bEmail, await Email(b.EntityId));
        Assert.Equal("甲2", await bed.Scalar<string>("select contact_name from contact where contact_id = @EntityId", a));
    }

    [Fact]
    public async Task SameSourceRecordIsAnUpdateEvenWithANewMobile()
    {
        var record = Contact(TestData.Mobile());
        var created = await bed.ResolveProcessed(record);
        var newMobile = TestData.Mobile();

        var outcome = await bed.ResolveProcessed(record with { Mobile = newMobile, ModifiedAt = T0.AddDays(1) });

        Assert.Equal(created.EntityId, outcome.EntityId);
        Assert.Equal(newMobile, await bed.Scalar<string>("select mobile_phone from contact where contact_id = @EntityId", created));
    }

    [Fact]
    public async Task EmailMatchesCaseFoldedAndFillsTheMobile()
    {
        var email = TestData.Email();
        var existing = await bed.ResolveProcessed(Contact(email: email));
        var mobile = TestData.Mobile();

        var outcome = await bed.ResolveProcessed(Contact(mobile, email.ToUpperInvariant()));

        Assert.Equal(existing.EntityId, outcome.EntityId);
        Assert.False(outcome.Created);
        Assert.Equal(mobile, await bed.Scalar<string>("select mobile_phone from contact where contact_id = @EntityId", existing));
    }

    [Fact]
    public async Task WeComExternalUserIdMatches()
    {
        var wecomId = TestData.Id("wm");
        var existing = await bed.ResolveProcessed(Contact() with { Channel = "wecom", WeComExternalUserId = wecomId });

        var outcome = await bed.ResolveProcessed(Contact(email: TestData.Email()) with { WeComExternalUserId = wecomId });

        Assert.Equal(existing.EntityId, outcome.EntityId);
        Assert.Equal(2L, await bed.Scalar<long>(
            "select count(*) from contact_channel_identity where contact_id = @EntityId and identity_type = 'wecom_external_user'",
            existing));
    }

    [Fact]
    public async Task OlderRecordOnlyFillsEmptyFields()
    {
        var mobile = TestData.Mobile();
        var existing = await bed.ResolveProcessed(Contact(mobile) with { Title = "总监", ModifiedAt = T0.AddDays(1) });

        await bed.ResolveProcessed(Contact(mobile) with { Title = "经理", City = "杭州", ModifiedAt = T0 });

        var (title, city) = await bed.Row<(string, string)>("select title, city from contact where contact_id = @EntityId", existing);
        Assert.Equal("总监", title);
        Assert.Equal("杭州", city);
    }

    [Fact]
    public async Task CompanyCreatesTheAccountAndLinksBothContacts()
    {
        var company = Word() + "科技有限公司";
        var city = City();

        var first = await bed.ResolveProcessed(Contact(TestData.Mobile()) with { Company = company, City = city, Title = "采购经理" });
        var second = await bed.ResolveProcessed(Contact(TestData.Mobile()) with { Company = company, City = city });

        Assert.NotNull(first.AccountId);
        Assert.Equal(first.AccountId, second.AccountId);
        Assert.Equal(1L, await bed.Scalar<long>("select count(*) from account where name_normalized = @company", new { company }));
        var links = await bed.Rows<Guid>("select contact_id from account_contact_relation where account_id = @AccountId", first);
        Assert.Equal(new[] { first.EntityId!.Value, second.EntityId!.Value }.Order(), links.Order());
        Assert.Equal(first.AccountId, await bed.Row<Guid?>("select primary_account_id from contact where contact_id = @EntityId", first));
    }

    [Fact]
    public async Task AmbiguousCompanySendsTheWholeRecordToReviewThenCreatesOnDecision()
    {
        var word = Word();
        var city = City();
        var a = await bed.InsertAccount(word + "科技有限公司", city);
        var b = await bed.InsertAccount(word + "信息有限公司", city);
        var mobile = TestData.Mobile();

        var (ingestionId, outcome) = await bed.Resolve(Contact(mobile) with { Company = word, City = city });

        Assert.Equal(ResolutionOutcome.Review, outcome.Status);
        Assert.Equal("contact", outcome.EntityType);
        Assert.Equal(0L, await bed.Scalar<long>("select count(*) from contact where mobile_phone = @mobile", new { mobile }));
        var review = (await bed.Reviews.ListAsync("open", 1000, CancellationToken.None)).Single(r => r.ReviewId == outcome.ReviewId);
        Assert.Equal("contact", review.EntityType);
        Assert.Equal([a, b], review.Candidates.Select(c => c.AccountId).Order());

        var result = await bed.Reviews.ResolveAsync(review.ReviewId, new ReviewDecision.Merge(b), AuditActor.System, CancellationToken.None);

        var resolved = Assert.IsType<ResolveReviewResult.Resolved>(result).Outcome;
        Assert.Equal(b, resolved.AccountId);
        Assert.True(resolved.Created);
        Assert.Equal(resolved.EntityId, await bed.Row<Guid?>("select contact_id from contact where mobile_phone = @mobile", new { mobile }));
        Assert.Equal(b, await bed.Row<Guid?>("select primary_account_id from contact where mobile_phone = @mobile", new { mobile }));
        Assert.Equal(1L, await bed.Scalar<long>(
            "select count(*) from account_contact_relation where account_id = @b and contact_id = @EntityId", new { b, resolved.EntityId }));
        Assert.Equal(("processed", "contact", resolved.EntityId, outcome.ReviewId), await bed.ReceiptState(ingestionId));
    }

    [Fact]
    public async Task RedeliveryReturnsTheRecordedOutcomeAndDoesNothing()
    {
        var record = Contact(TestData.Mobile()) with { Company = Word() + "科技有限公司", City = City() };
        var (ingestionId, first) = await bed.Resolve(record);

        var again = await bed.Resolver.ResolveAsync(ingestionId, Clean(record with { Title = "变了" }), null, CancellationToken.None);

        Assert.Equal(first, again);
        Assert.True(again.Created);
        Assert.Null(await bed.Row<string?>("select title from contact where contact_id = @EntityId", first));
    }

    [Fact]
    public async Task ChannelIdentityKeepsFirstAndLastSeen()
    {
        var record = Contact(TestData.Mobile()) with { OpenId = TestData.Id("o"), UnionId = TestData.Id("u") };
        var created = await bed.ResolveProcessed(record);
        await bed.ResolveProcessed(record with { ModifiedAt = T0.AddDays(2) });
        await bed.ResolveProcessed(record with { ModifiedAt = T0.AddDays(-1) });

        var seen = await bed.Rows<(string Type, DateTime First, DateTime Last)>("""
            select identity_type, first_seen_at, last_seen_at from contact_channel_identity
            where contact_id = @EntityId order by identity_type
            """, created);

        Assert.Equal(["source_record", "wechat_openid", "wechat_unionid"], seen.Select(s => s.Type));
        Assert.All(seen, s => Assert.Equal(T0.AddDays(-1).UtcDateTime, s.First));
        Assert.All(seen, s => Assert.Equal(T0.AddDays(2).UtcDateTime, s.Last));
        Assert.Equal(record.UnionId, await bed.Scalar<string>("select wechat_id from contact where contact_id = @EntityId", created));
    }
}
