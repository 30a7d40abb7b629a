using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Cdp.Shared.Access;
using Cdp.Tests.Support;
using Dapper;

namespace Cdp.Tests.Identity;

/// <summary>Ambiguous company -> review queue -> a person decides through the API -> the record is processed.</summary>
public sealed class IdentityReviewApiTests(CdpApp app) : IClassFixture<CdpApp>
{
    readonly HttpClient client = app.Client;

    [Fact]
    public async Task Ambiguous_company_waits_for_a_person_and_the_merge_decision_links_the_contact()
    {
        var (reviewIngestion, accounts) = await ContactWithAmbiguousCompanyAsync();

        var reviews = await client.GetFromJsonAsync<JsonElement>("/api/identity/reviews?status=open");
        var review = reviews.EnumerateArray().Single(r => r.GetProperty("ingestionId").GetGuid() == reviewIngestion.IngestionId);
        var candidates = review.GetProperty("candidates").EnumerateArray().Select(c => c.GetProperty("accountId").GetGuid()).Order();
        Assert.Equal(accounts.Order(), candidates);
        Assert.Equal(review.GetProperty("reviewId").GetGuid(), reviewIngestion.ReviewId);

        using var resolve = await client.PostAsJsonAsync($"/api/identity/reviews/{reviewIngestion.ReviewId}/resolve", new { decision = "merge", targetId = accounts[1] });
        Assert.Equal(HttpStatusCode.OK, resolve.StatusCode);

        var settled = await CdpApp.SettledAsync(client, reviewIngestion.IngestionId);
        Assert.Equal(("processed", "contact"), (settled.Status, settled.EntityType));
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        Assert.Equal(accounts[1], await conn.QuerySingleAsync<Guid>("select primary_account_id from contact where contact_id = @id", new { id = settled.EntityId }));

        using var again = await client.PostAsJsonAsync($"/api/identity/reviews/{reviewIngestion.ReviewId}/resolve", new { decision = "create" });
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
    }

    [Fact]
    public async Task Create_decision_makes_a_new_account_for_the_record()
    {
        var (reviewIngestion, accounts) = await ContactWithAmbiguousCompanyAsync();

        using var resolve = await client.PostAsJsonAsync($"/api/identity/reviews/{reviewIngestion.ReviewId}/resolve", new { decision = "create" });

        Assert.Equal(HttpStatusCode.OK, resolve.StatusCode);
        var settled = await CdpApp.SettledAsync(client, reviewIngestion.IngestionId);
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        var account = await conn.QuerySingleAsync<Guid>("select primary_account_id from contact where contact_id = @id", new { id = settled.EntityId });
        Assert.DoesNotContain(account, accounts);
    }

    [Theory]
    [InlineData("""{"decision":"merge"}""", 422)]
    [InlineData("""{"decision":"maybe"}""", 422)]
    [InlineData("""{"decision":""", 400)]
    public async Task Bad_decisions_are_refused_and_the_review_stays_open(string body, int expected)
    {
        var (reviewIngestion, _) = await ContactWithAmbiguousCompanyAsync();

        using var response = await client.PostAsync($"/api/identity/reviews/{reviewIngestion.ReviewId}/resolve",
            new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(expected, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("review", (await CdpApp.SettledAsync(client, reviewIngestion.IngestionId)).Status);
    }

    [Fact]
    public async Task Merge_into_an_account_that_does_not_exist_is_422()
    {
        var (reviewIngestion, _) = await ContactWithAmbiguousCompanyAsync();
        using var response = await client.PostAsJsonAsync($"/api/identity/reviews/{reviewIngestion.ReviewId}/resolve", new { decision = "merge", targetId = Guid.NewGuid() });
        Assert.Equal(422, (int)response.StatusCode);
    }

    [Fact]
    public async Task A_decision_is_audited_once_with_the_caller_who_shows_as_resolvedBy_and_a_second_decision_adds_no_row()
    {
        var (reviewIngestion, _) = await ContactWithAmbiguousCompanyAsync();
        using var steward = await ApiKeyCaller.CreateAsync(app, Permissions.IdentityReview);
        var reviewId = reviewIngestion.ReviewId!.Value;

        using var resolve = await steward.Client.PostAsJsonAsync($"/api/identity/reviews/{reviewId}/resolve", new { decision = "create" });
        using var again = await steward.Client.PostAsJsonAsync($"/api/identity/reviews/{reviewId}/resolve", new { decision = "create" });

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.Conflict), (resolve.StatusCode, again.StatusCode));
        var audit = Assert.Single(await AuditTrail.OfAsync(app, reviewId, "identity_review.resolve"));
        Assert.Equal((steward.Actor, "identity_review", "create"), (audit.Actor, audit.EntityType, audit.Detail!.Value.GetProperty("decision").GetString()));
        var resolved = await client.GetFromJsonAsync<JsonElement>("/api/identity/reviews?status=resolved&limit=1000");
        Assert.Equal(steward.Actor, resolved.EnumerateArray().Single(r => r.GetProperty("reviewId").GetGuid() == reviewId).GetProperty("resolvedBy").GetString());
    }

    [Fact]
    public async Task A_refused_decision_leaves_no_audit_row()
    {
        var (reviewIngestion, _) = await ContactWithAmbiguousCompanyAsync();
        var unknown = Guid.NewGuid();

        using var badTarget = await client.PostAsJsonAsync($"/api/identity/reviews/{reviewIngestion.ReviewId}/resolve", new { decision = "merge", targetId = Guid.NewGuid() });
        using var missing = await client.PostAsJsonAsync($"/api/identity/reviews/{unknown}/resolve", new { decision = "create" });

        Assert.Equal((422, 404), ((int)badTarget.StatusCode, (int)missing.StatusCode));
        Assert.Empty(await AuditTrail.OfAsync(app, reviewIngestion.ReviewId!.Value, "identity_review.resolve"));
        Assert.Empty(await AuditTrail.OfAsync(app, unknown, "identity_review.resolve"));
    }

    [Fact]
    public async Task Unknown_review_is_404()
    {
        using var response = await client.PostAsJsonAsync($"/api/identity/reviews/{Guid.NewGuid()}/resolve", new { decision = "create" });
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task A_steward_without_pii_reveal_sees_the_incoming_record_masked_and_the_read_is_audited()
    {
        var (mobile, email) = (TestData.Mobile(), TestData.Email());
        var (review, _) = await ContactWithAmbiguousCompanyAsync(mobile, email);
        var (steward, actor) = await ApiKeyCaller.CreateAsync(app, Permissions.IdentityReview);

        var body = await steward.GetStringAsync("/api/identity/reviews?status=open&limit=1000");
        Assert.DoesNotContain(mobile, body);
        Assert.DoesNotContain(email, body, StringComparison.OrdinalIgnoreCase);
        Assert.Equal((PiiMask.Phone(mobile), PiiMask.Email(email)), Contact(JsonDocument.Parse(body).RootElement));
        // With pii:reveal (the admin), the same queue in full.
        Assert.Equal((mobile, email), Contact(await client.GetFromJsonAsync<JsonElement>("/api/identity/reviews?status=open&limit=1000")));

        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        var (entityType, detail) = await conn.QuerySingleAsync<(string, string)>(
            "select entity_type, detail::text from audit_log where actor = @actor and action = @action", new { actor, action = PiiReads.ReadAction });
        Assert.Equal("identity_review", entityType);
        Assert.Contains("\"masked\": true", detail, StringComparison.Ordinal);

        (string?, string?) Contact(JsonElement queue)
        {
            var record = queue.EnumerateArray().Single(r => r.GetProperty("reviewId").GetGuid() == review.ReviewId).GetProperty("record").GetProperty("record");
            return (record.GetProperty("mobile").GetString(), record.GetProperty("email").GetString());
        }
    }

    /// <summary>
    /// Two accounts whose short names are alike in one city (distinct credit codes keep them apart), then a contact
    /// naming the company loosely, without a code.
    /// </summary>
    async Task<(Shared.Ingestion.IngestionStatus Review, Guid[] Accounts)> ContactWithAmbiguousCompanyAsync(string? mobile = null, string? email = null)
    {
        var city = "测试" + Guid.NewGuid().ToString("N")[..8];
        var word = TestData.CompanyWord();
        var accounts = new List<Guid>();
        foreach (var name in new[] { $"{word}科技有限公司", $"{word}科技发展有限公司" })
        {
            var (id, _) = await CdpApp.IngestAsync(client, "crm", Payloads.Crm("account", new { Company = name, City = city, CreditCode = TestData.CreditCode() }));
            var status = await CdpApp.SettledAsync(client, id);
            Assert.Equal(("processed", "account"), (status.Status, status.EntityType));
            accounts.Add(status.EntityId!.Value);
        }
        var contact = Payloads.Crm("contact", new { LastName = "韦", FirstName = "小宝", Company = $"{word}科技", City = city, MobilePhone = mobile ?? TestData.Mobile(), Email = email });
        var review = await CdpApp.SettledAsync(client, (await CdpApp.IngestAsync(client, "crm", contact)).Id);
        Assert.Equal("review", review.Status);
        Assert.NotNull(review.ReviewId);
        return (review, [.. accounts]);
    }
}
