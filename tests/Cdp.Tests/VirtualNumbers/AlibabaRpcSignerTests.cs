using System.Text.RegularExpressions;
using Cdp.Shared.VirtualNumbers;

namespace Cdp.Tests.VirtualNumbers;

/// <summary>
/// Alibaba Cloud's RPC signature 1.0 against published vectors: the DescribeRegions example of Alibaba's signature pages
/// (AccessKeyId testid, AccessKeySecret testsecret; the current pages' StringToSign and OLeaid... signature; older pages
/// printed a string with the separators unencoded and a signature, CT9X0..., that does not reproduce) and the
/// HmacSha1Signer test of Alibaba's C++ SDK (RegionId region1, TimeStamp spelled so, axE3F...).
/// </summary>
public sealed partial class AlibabaRpcSignerTests
{
    static readonly Dictionary<string, string> DescribeRegions = new()
    {
        ["AccessKeyId"] = "testid", ["Action"] = "DescribeRegions", ["Format"] = "XML", ["SignatureMethod"] = "HMAC-SHA1",
        ["SignatureNonce"] = "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf", ["SignatureVersion"] = "1.0",
        ["Timestamp"] = "2016-02-23T12:46:24Z", ["Version"] = "2014-05-26",
    };

    [Fact]
    public void The_documented_DescribeRegions_example_gives_the_documented_string_to_sign_and_signature()
    {
        Assert.Equal(
            "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1" +
            "%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0" +
            "%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26",
            AlibabaRpcSigner.StringToSign("GET", DescribeRegions));
        Assert.Equal("OLeaidS1JvxuMvnyHOwuJ+uX5qY=", AlibabaRpcSigner.Sign("GET", DescribeRegions, "testsecret"));
        // A Signature among the parameters is not signed.
        Assert.Equal("OLeaidS1JvxuMvnyHOwuJ+uX5qY=", AlibabaRpcSigner.Sign("GET", new Dictionary<string, string>(DescribeRegions) { ["Signature"] = "x" }, "testsecret"));
    }

    [Fact]
    public void The_aliyun_SDK_signer_vector_reproduces()
    {
        var parameters = new Dictionary<string, string>
        {
            ["Version"] = "2013-01-10", ["TimeStamp"] = "2012-12-26T10:33:56Z", ["SignatureVersion"] = "1.0", ["SignatureNonce"] = "NwDAxvLU6tFE0DVb",
            ["SignatureMethod"] = "HMAC-SHA1", ["RegionId"] = "region1", ["Format"] = "XML", ["Action"] = "DescribeRegions", ["AccessKeyId"] = "testid",
        };
        Assert.Equal(
            "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26RegionId%3Dregion1%26SignatureMethod%3DHMAC-SHA1" +
            "%26SignatureNonce%3DNwDAxvLU6tFE0DVb%26SignatureVersion%3D1.0%26TimeStamp%3D2012-12-26T10%253A33%253A56Z%26Version%3D2013-01-10",
            AlibabaRpcSigner.StringToSign("GET", parameters));
        Assert.Equal("axE3FUHgDyfm9/+Iep0HpZXrRwE=", AlibabaRpcSigner.Sign("GET", parameters, "testsecret"));
    }

    [Theory]
    [InlineData("a b", "a%20b")]
    [InlineData("a*b", "a%2Ab")]
    [InlineData("a~b-_.", "a~b-_.")]
    [InlineData("a+b=c&d/e:f", "a%2Bb%3Dc%26d%2Fe%3Af")]
    [InlineData("上海", "%E4%B8%8A%E6%B5%B7")]
    [InlineData("2026-11-26 10:00:00", "2026-11-26%2010%3A00%3A00")]
    public void Percent_encoding_is_RFC_3986_over_UTF_8(string value, string encoded) =>
        Assert.Equal(encoded, AlibabaRpcSigner.PercentEncode(value));

    [Fact]
    public void Parameters_sort_by_ordinal_name_so_upper_case_comes_before_lower_case()
    {
        var toSign = AlibabaRpcSigner.StringToSign("post", new Dictionary<string, string> { ["b"] = "1", ["B"] = "2", ["A"] = "3" });
        Assert.Equal("POST&%2F&A%3D3%26B%3D2%26b%3D1", toSign);
    }

    [Fact]
    public void A_signed_request_carries_the_common_parameters_and_drops_unset_ones()
    {
        var at = new DateTimeOffset(2026, 11, 26, 18, 5, 9, TimeSpan.FromHours(8));
        var signed = AlibabaRpcSigner.Signed("POST", new Dictionary<string, string?> { ["Action"] = "BindAxb", ["PhoneNoB"] = null },
            "LTAIexample", "example-secret", at, "nonce-1");

        Assert.Equal("2026-11-26T10:05:09Z", signed["Timestamp"]);
        Assert.Equal(("LTAIexample", "HMAC-SHA1", "1.0", "nonce-1"), (signed["AccessKeyId"], signed["SignatureMethod"], signed["SignatureVersion"], signed["SignatureNonce"]));
        Assert.False(signed.ContainsKey("PhoneNoB"));
        Assert.Matches(Base64Sha1(), signed["Signature"]);
        Assert.Equal(AlibabaRpcSigner.Sign("POST", signed, "example-secret"), signed["Signature"]);
        var other = AlibabaRpcSigner.Signed("POST", new Dictionary<string, string?> { ["Action"] = "BindAxb" }, "LTAIexample", "example-secret", at, "nonce-2");
        Assert.NotEqual(signed["Signature"], other["Signature"]);
    }

    [GeneratedRegex("^[A-Za-z0-9+/]{27}=$")]
    private static partial Regex Base64Sha1();
}
