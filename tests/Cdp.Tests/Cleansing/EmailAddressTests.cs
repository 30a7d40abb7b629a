using Cdp.Shared.Cleansing;

namespace Cdp.Tests.Cleansing;

public class EmailAddressTests
{
    [Theory]
    [InlineData("zhang.wei@example.com", "zhang.wei@example.com")]
    [InlineData("Zhang.Wei@Example.COM", "zhang.wei@example.com")]
    [InlineData("zhangwei＠qq.com", "zhangwei@qq.com")]                    // full-width @
    [InlineData("ｚｈａｎｇ＠１６３．ｃｏｍ", "zhang@163.com")]             // all full-width
    [InlineData("  li.na@corp.example.cn \t", "li.na@corp.example.cn")]
    [InlineData("wang@qq。com", "wang@qq.com")]                            // ideographic full stop
    [InlineData("a+tag@sub-domain.example.com", "a+tag@sub-domain.example.com")]
    [InlineData("o'brien@example.ie", "o'brien@example.ie")]
    [InlineData("x@xn--fiqs8s.cn", "x@xn--fiqs8s.cn")]
    public void AcceptsAndCanonicalizes(string raw, string expected)
    {
        Assert.True(EmailAddress.TryNormalize(raw, out var canonical));
        Assert.Equal(expected, canonical);
    }

    [Theory]
    [InlineData("no-at-sign")]
    [InlineData("a..b@x.com")]
    [InlineData(".a@x.com")]
    [InlineData("a.@x.com")]
    [InlineData("@x.com")]
    [InlineData("a@")]
    [InlineData("a@b@x.com")]
    [InlineData("a@localhost")]
    [InlineData("a@x..com")]
    [InlineData("a@.x.com")]
    [InlineData("a@x.com.")]
    [InlineData("a@-x.com")]
    [InlineData("a@x_y.com")]
    [InlineData("zhang wei@x.com")]
    [InlineData("a@x.com (work)")]
    [InlineData("a@1.2.3.4")]
    [InlineData("张伟@x.com")]
    [InlineData("a\"b@x.com")]
    public void RejectsBadSyntax(string raw)
    {
        Assert.False(EmailAddress.TryNormalize(raw, out var canonical, out var problem));
        Assert.Null(canonical);
        Assert.False(string.IsNullOrWhiteSpace(problem));
    }

    [Fact]
    public void LocalPartOf64IsAcceptedAnd65Rejected()
    {
        Assert.True(EmailAddress.TryNormalize(new string('a', 64) + "@x.com", out _));
        Assert.False(EmailAddress.TryNormalize(new string('a', 65) + "@x.com", out _));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData(" \u3000 ")]
    public void AbsentIsNotInvalid(string? raw)
    {
        Assert.True(EmailAddress.TryNormalize(raw, out var canonical));
        Assert.Null(canonical);
    }

    [Fact]
    public void ProblemDoesNotRepeatTheAddress()
    {
        EmailAddress.TryNormalize("secret.person..x@example.com", out _, out var problem);
        Assert.NotNull(problem);
        Assert.DoesNotContain("secret", problem);
        Assert.DoesNotContain("example", problem);
    }

    [Theory]
    [InlineData("zhang@example.com", "z***@example.com")]
    [InlineData("Zhang.Wei＠Example.com", "z***@example.com")]
    [InlineData("no-at-sign", "***")]
    public void Masks(string raw, string expected) => Assert.Equal(expected, EmailAddress.Mask(raw));
}
