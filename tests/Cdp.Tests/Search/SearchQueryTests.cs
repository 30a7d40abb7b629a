using Cdp.Shared.Api;
using Cdp.Shared.Search;
using Cdp.Tests.Support;

namespace Cdp.Tests.Search;

/// <summary>What the search box text is taken for, and which query strings are refused; no database.</summary>
public sealed class SearchQueryTests
{
    [Theory]
    [InlineData("13812345678")]
    [InlineData("+86 138-1234-5678")]
    [InlineData("0086 138 1234 5678")]
    [InlineData("(138) 1234.5678")]
    [InlineData("１３８１２３４５６７８")]
    public void A_mainland_mobile_in_any_spelling_is_searched_as_the_canonical_number(string q) =>
        Assert.Equal(new SearchTerm.Mobile("13812345678"), SearchTerm.Classify(q));

    [Fact]
    public void An_email_is_searched_case_folded() =>
        Assert.Equal(new SearchTerm.Email("zhang.wei@qq.com"), SearchTerm.Classify("Zhang.Wei@QQ。COM"));

    [Fact]
    public void A_credit_code_with_a_valid_check_character_is_searched_as_a_code_however_grouped()
    {
        var code = TestData.CreditCode();
        var grouped = $"{code[..4]} {code[4..10]}-{code[10..]}".ToLowerInvariant();
        Assert.Equal(new SearchTerm.CreditCode(code), SearchTerm.Classify(grouped));
    }

    [Fact]
    public void A_code_with_a_wrong_check_character_is_searched_as_a_code_as_unverified_codes_are_stored()
    {
        var wrong = TestData.UnverifiedCreditCode();
        Assert.Equal(new SearchTerm.CreditCode(wrong), SearchTerm.Classify(wrong.ToLowerInvariant()));
        Assert.IsType<SearchTerm.Name>(SearchTerm.Classify("9111000080210043IB"));
    }

    [Theory]
    [InlineData("12345")]             // too short for a mobile
    [InlineData("010-12345678")]      // a landline
    [InlineData("zhang@")]            // not an address
    public void Something_that_only_looks_like_a_key_is_searched_as_a_name(string q) =>
        Assert.IsType<SearchTerm.Name>(SearchTerm.Classify(q));

    [Fact]
    public void A_company_name_is_searched_in_the_normalised_forms_accounts_are_stored_with()
    {
        var term = Assert.IsType<SearchTerm.Name>(SearchTerm.Classify("深圳市 腾讯计算机系统有限公司"));
        Assert.Equal("深圳市腾讯计算机系统有限公司", term.CompanyFull);
        Assert.Equal("腾讯计算机系统", term.CompanyShort);
        Assert.Equal("深圳市腾讯计算机系统有限公司", term.Person);
    }

    [Fact]
    public void Defaults_are_all_kinds_and_ten_matches()
    {
        var query = SearchQuery.Parse("  腾讯 ", null, null);
        Assert.Equal("腾讯", query.Text);
        Assert.Equal(Enum.GetValues<SearchKind>(), query.Kinds.Order());
        Assert.Equal(10, query.Limit);
    }

    [Theory]
    [InlineData("account", SearchKind.Account)]
    [InlineData("Contact", SearchKind.Contact)]
    [InlineData(" LEAD ", SearchKind.Lead)]
    public void Type_picks_one_kind(string type, SearchKind kind) =>
        Assert.Equal([kind], SearchQuery.Parse("腾讯", type, "50").Kinds);

    [Theory]
    [InlineData(null, null, null, "q")]
    [InlineData("   ", null, null, "q")]
    [InlineData("腾", null, null, "q")]
    [InlineData("腾讯", "opportunity", null, "type")]
    [InlineData("腾讯", "1", null, "type")]
    [InlineData("腾讯", "account,lead", null, "type")]
    [InlineData("腾讯", null, "0", "limit")]
    [InlineData("腾讯", null, "51", "limit")]
    [InlineData("腾讯", null, "ten", "limit")]
    [InlineData("腾讯", null, "-5", "limit")]
    public void A_bad_query_string_is_a_400_naming_the_field(string? q, string? type, string? limit, string field)
    {
        var problem = Assert.Throws<ApiProblemException>(() => SearchQuery.Parse(q, type, limit)).Problem;
        Assert.Equal(400, problem.Status);
        Assert.Equal([field], problem.Errors!.Keys);
    }

    [Fact]
    public void A_query_over_a_hundred_characters_is_refused_and_every_problem_is_named_at_once()
    {
        var problem = Assert.Throws<ApiProblemException>(() => SearchQuery.Parse(new string('a', 101), "x", "x")).Problem;
        Assert.Equal(["limit", "q", "type"], problem.Errors!.Keys.Order());
        Assert.Contains("at most 100", problem.Errors["q"][0], StringComparison.Ordinal);
        Assert.Equal(SearchQuery.MaxLength, SearchQuery.Parse(new string('a', 100), null, null).Text.Length);
    }
}
