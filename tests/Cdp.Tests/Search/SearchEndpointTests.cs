using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Cdp.Shared;
using Cdp.Shared.Cleansing;
using Cdp.Shared.Search;
using Cdp.Shared.Storage;
using Cdp.Tests.Support;
using Dapper;

namespace Cdp.Tests.Search;

/// <summary>GET /api/search through the local host in-process on real Postgres. Each test seeds names of its own.</summary>
public sealed class SearchEndpointTests(CdpApp app) : IClassFixture<CdpApp>
{
    [Fact]
    public async Task A_misspelt_or_partial_short_name_finds_the_company()
    {
        var id = await AccountAsync("深圳市腾讯计算机系统有限公司");

        foreach (var q in new[] { "腾讯", "腾迅", "腾讯计算机", "腾迅计算机系统", "腾讯计算机系统有限公司", "深圳腾讯计算机系统" })
        {
            var matches = await SearchAsync(q, "account");
            Assert.True(matches.Any(m => m.Id == id), $"'{q}' should find the company");
            Assert.All(matches, m => Assert.Equal("name", m.MatchedOn));
        }

        var exact = (await SearchAsync("深圳市腾讯计算机系统有限公司")).First();
        Assert.Equal((id, 1.0, "深圳市腾讯计算机系统有限公司"), (exact.Id, exact.Score, exact.Name));
    }

    [Fact]
    public async Task Exact_names_come_before_prefixes_before_fuzzy_matches()
    {
        var word = "辰" + TestData.CompanyWord(5);
        var fuzzy = await AccountAsync("上海" + word[..^1] + (word[^1] == '星' ? '月' : '星') + "有限公司");
        var prefix = await AccountAsync(word + "软件有限公司");
        var exact = await AccountAsync("北京" + word + "有限公司");

        var matches = await SearchAsync(word + "有限公司", "account");

        Assert.Equal([exact, prefix, fuzzy], matches.Select(m => m.Id).Where(new[] { exact, prefix, fuzzy }.Contains));
        Assert.Equal(1.0, matches[0].Score);
        Assert.InRange(matches.Single(m => m.Id == prefix).Score, 0.8, 0.9);
        Assert.InRange(matches.Single(m => m.Id == fuzzy).Score, 0.0, 0.7);
        Assert.Equal(matches.OrderByDescending(m => m.Score).Select(m => m.Id), matches.Select(m => m.Id));
    }

    [Fact]
    public async Task People_are_found_by_name_with_their_company_and_a_masked_phone()
    {
        var company = "启明" + TestData.CompanyWord(5) + "有限公司";
        var accountId = await AccountAsync(company);
        var name = "欧阳" + TestData.CompanyWord(3);
        var mobile = TestData.Mobile();
        var contactId = await ContactAsync(name, mobile, email: null, accountId);
        var leadId = await LeadAsync(name + "娜", TestData.Mobile(), email: null, company: "某某公司");

        var matches = await SearchAsync(name);

        var contact = matches.Single(m => m.Id == contactId);
        Assert.Equal(("contact", name, 1.0, company, MobileNumber.Mask(mobile)), (contact.Type, contact.Name, contact.Score, contact.CompanyName, contact.MaskedPhone));
        var lead = matches.Single(m => m.Id == leadId);
        Assert.Equal(("lead", "某某公司"), (lead.Type, lead.CompanyName));
        Assert.InRange(lead.Score, 0.8, 0.9);   // a prefix of the lead's name
        Assert.Equal(contactId, matches[0].Id);
    }

    [Fact]
    public async Task Type_keeps_to_one_kind()
    {
        var word = "星辰" + TestData.CompanyWord(4);
        var accountId = await AccountAsync(word + "有限公司");
        var contactId = await ContactAsync(word, TestData.Mobile(), null, null);
        var leadId = await LeadAsync(word, TestData.Mobile(), null, null);

        Assert.Equal(new[] { accountId, contactId, leadId }.Order(), (await SearchAsync(word)).Select(m => m.Id).Intersect([accountId, contactId, leadId]).Order());
        Assert.Equal([accountId], (await SearchAsync(word, "account")).Select(m => m.Id).Where(new[] { accountId, contactId, leadId }.Contains));
        Assert.All(await SearchAsync(word, "contact"), m => Assert.Equal("contact", m.Type));
        Assert.Contains(contactId, (await SearchAsync(word, "contact")).Select(m => m.Id));
        Assert.All(await SearchAsync(word, "lead"), m => Assert.Equal("lead", m.Type));
        Assert.Contains(leadId, (await SearchAsync(word, "lead")).Select(m => m.Id));
    }

    [Fact]
    public async Task A_phone_in_any_format_finds_the_contact_and_the_lead_ingested_with_another_format()
    {
        var mobile = TestData.Mobile();
        var leadId = await LeadAsync("贺" + TestData.CompanyWord(2), mobile, null, null);
        var (ingestionId, _) = await CdpApp.IngestAsync(app.Client, "crm", Payloads.Crm("contact",
            new { LastName = "贺", FirstName = "敏", MobilePhone = $"+86 {mobile[..3]}-{mobile[3..7]}-{mobile[7..]}" }));
        var contactId = (await CdpApp.SettledAsync(app.Client, ingestionId)).EntityId!.Value;

        foreach (var q in new[] { mobile, $"{mobile[..3]} {mobile[3..7]} {mobile[7..]}", "0086" + mobile, "+86-" + mobile })
        {
            var matches = await SearchAsync(q);
            Assert.Equal(new[] { contactId, leadId }.Order(), matches.Select(m => m.Id).Order());
            Assert.All(matches, m => Assert.Equal(("phone", 1.0, MobileNumber.Mask(mobile)), (m.MatchedOn, m.Score, m.MaskedPhone)));
        }
        Assert.Equal([leadId], (await SearchAsync(mobile, "lead")).Select(m => m.Id));
        Assert.Empty(await SearchAsync(mobile, "account"));
    }

    [Fact]
    public async Task An_email_is_found_whatever_its_case()
    {
        var email = TestData.Email();
        var contactId = await ContactAsync("邮件" + TestData.CompanyWord(2), TestData.Mobile(), email, null);
        var leadId = await LeadAsync("邮件" + TestData.CompanyWord(2), TestData.Mobile(), email, null);

        var matches = await SearchAsync(" " + email.ToUpperInvariant());

        Assert.Equal(new[] { contactId, leadId }.Order(), matches.Select(m => m.Id).Order());
        Assert.All(matches, m => Assert.Equal("email", m.MatchedOn));
    }

    [Fact]
    public async Task A_credit_code_finds_its_account_exactly()
    {
        var code = TestData.CreditCode();
        var accountId = await AccountAsync("信用" + TestData.CompanyWord(4) + "有限公司", code);
        await AccountAsync("信用" + TestData.CompanyWord(4) + "有限公司", TestData.CreditCode());

        var match = Assert.Single(await SearchAsync(code.ToLowerInvariant()));
        Assert.Equal((accountId, "account", "creditCode", 1.0), (match.Id, match.Type, match.MatchedOn, match.Score));
        Assert.Empty(await SearchAsync(code, "contact"));
    }

    [Fact]
    public async Task Nothing_found_is_200_with_no_matches()
    {
        var q = "zq" + Guid.NewGuid().ToString("N")[..12];
        using var response = await app.Client.GetAsync($"/api/search?q={q}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(q, body.GetProperty("query").GetString());
        Assert.Equal(0, body.GetProperty("matches").GetArrayLength());
    }

    [Fact]
    public async Task Limit_caps_the_matches()
    {
        var word = "限" + TestData.CompanyWord(5);
        for (var i = 0; i < 4; i++) await AccountAsync(word + "分" + i + "有限公司");
        Assert.Equal(2, (await SearchAsync(word, "account", limit: 2)).Count);
    }

    [Theory]
    [InlineData("", "q")]
    [InlineData("?q=a", "q")]
    [InlineData("?q=%20%20", "q")]
    [InlineData("?q=腾讯&type=opportunity", "type")]
    [InlineData("?q=腾讯&limit=51", "limit")]
    [InlineData("?q=腾讯&limit=abc", "limit")]
    public async Task Bad_input_is_a_400_problem_naming_the_field(string query, string field)
    {
        using var response = await app.Client.GetAsync("/api/search" + query);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(400, problem.GetProperty("status").GetInt32());
        Assert.Contains(field, problem.GetProperty("errors").EnumerateObject().Select(p => p.Name));
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("errors").GetProperty(field)[0].GetString()));
    }

    [Fact]
    public async Task A_too_long_query_is_a_400()
    {
        using var response = await app.Client.GetAsync("/api/search?q=" + new string('x', 101));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("at most 100", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Logs_never_carry_the_searched_phone_or_email()
    {
        var mobile = TestData.Mobile();
        var email = TestData.Email();
        await ContactAsync("隐私" + TestData.CompanyWord(2), mobile, email, null);

        Assert.Single(await SearchAsync(mobile, "contact"));
        Assert.Single(await SearchAsync("+86 " + mobile, "contact"));
        Assert.Single(await SearchAsync(email, "contact"));
        using (await app.Client.GetAsync($"/api/search?q={mobile}&type=nonsense")) { }

        Assert.NotEmpty(app.Logs.Lines);
        foreach (var line in app.Logs.Lines)
        {
            Assert.DoesNotContain(mobile, line, StringComparison.Ordinal);
            Assert.DoesNotContain(email, line, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Theory]
    [InlineData("13812345678", null)]
    [InlineData("someone@example.com", null)]
    [InlineData("CREDIT", null)]
    [InlineData("腾讯", null)]
    [InlineData("腾迅计算机系统", null)]
    [InlineData("Acme Trading", "contact")]
    public async Task Every_search_is_answered_from_indexes(string q, string? type)
    {
        if (q == "CREDIT") q = TestData.CreditCode();
        var plan = await PlanAsync(app.Database.DataSource, SearchQuery.Parse(q, type, null));

        Assert.DoesNotContain("Seq Scan", plan, StringComparison.Ordinal);
        Assert.Contains("Index", plan, StringComparison.Ordinal);
    }

    /// <summary>The plan of the search statement, with sequential scans priced out: one that still has one found no index able to answer.</summary>
    internal static async Task<string> PlanAsync(Npgsql.NpgsqlDataSource db, SearchQuery query, Shared.Access.ScopeViewer? viewer = null)
    {
        var (sql, args) = CustomerSearch.Build(query, viewer)!.Value;
        await using var conn = await db.OpenConnectionAsync();
        await using var tx = await conn.BeginTransactionAsync();
        await CustomerSearch.SetNameThresholdAsync(conn, tx, CancellationToken.None);
        await conn.ExecuteAsync("set local enable_seqscan = off", transaction: tx);
        return string.Join("\n", await conn.QueryAsync<string>("explain " + sql, args, tx));
    }

    async Task<List<SearchMatch>> SearchAsync(string q, string? type = null, int? limit = null)
    {
        var url = "/api/search?q=" + Uri.EscapeDataString(q) + (type is null ? "" : "&type=" + type) + (limit is null ? "" : "&limit=" + limit);
        using var response = await app.Client.GetAsync(url);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<SearchResult>(CdpJson.Options);
        return [.. body!.Matches];
    }

    async Task<Guid> AccountAsync(string company, string? creditCode = null)
    {
        var id = Guid.CreateVersion7();
        var (full, shortName) = CompanyName.Normalize(company);
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        await conn.ExecuteAsync("""
            insert into account (account_id, account_name, name_normalized, name_short, unified_social_credit_code, city, shard_id)
            values (@id, @company, @full, @shortName, @creditCode, '深圳', @shard)
            """, new { id, company, full, shortName, creditCode, shard = Shard.Of(id) });
        return id;
    }

    async Task<Guid> ContactAsync(string name, string mobile, string? email, Guid? accountId)
    {
        var id = Guid.CreateVersion7();
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        await conn.ExecuteAsync("""
            insert into contact (contact_id, contact_name, mobile_phone, email, primary_account_id, city, shard_id)
            values (@id, @name, @mobile, @email, @accountId, '深圳', @shard)
            """, new { id, name, mobile, email, accountId, shard = Shard.Of(id) });
        return id;
    }

    async Task<Guid> LeadAsync(string name, string mobile, string? email, string? company)
    {
        var id = Guid.CreateVersion7();
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        await conn.ExecuteAsync("""
            insert into lead (lead_id, lead_name, company_name, mobile_phone, email, city, channel_id, shard_id)
            values (@id, @name, @company, @mobile, @email, '深圳', 'crm', @shard)
            """, new { id, name, company, mobile, email, shard = Shard.Of(id) });
        return id;
    }
}
