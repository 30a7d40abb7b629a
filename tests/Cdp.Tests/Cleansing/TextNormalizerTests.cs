using Cdp.Shared.Cleansing;

namespace Cdp.Tests.Cleansing;

public class TextNormalizerTests
{
    [Theory]
    [InlineData("ＡＣＭＥ　Ｃｏ．", "ACME Co.")]          // full-width letters, ideographic space
    [InlineData("１３８", "138")]
    [InlineData("  张三  ", "张三")]
    [InlineData("张\u00A0三", "张 三")]                   // NBSP
    [InlineData("a\t\r\n  b", "a b")]
    [InlineData("a\u200Bb\u200C\u200Dc", "abc")]           // zero-width space, non-joiner, joiner
    [InlineData("\uFEFFhello", "hello")]                   // BOM from a CSV export
    [InlineData("a\u2003\u2009b", "a b")]                  // em space, thin space
    [InlineData("ｶﾀｶﾅ", "カタカナ")]                       // half-width katakana, NFKC
    [InlineData("（北京）", "(北京)")]
    [InlineData("x\u0001y", "xy")]                          // control character
    public void Normalizes(string input, string expected) =>
        Assert.Equal(expected, TextNormalizer.Normalize(input));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("\u3000\u3000")]
    [InlineData("\u200B\uFEFF")]
    [InlineData("\t\n")]
    public void EmptyOrInvisibleIsNull(string? input) => Assert.Null(TextNormalizer.Normalize(input));

    [Fact]
    public void LoneSurrogateIsDroppedInsteadOfThrowing() =>
        Assert.Equal("ab", TextNormalizer.Normalize("a\uD800b"));

    [Fact]
    public void KeepsSurrogatePairs() =>
        Assert.Equal("𠮷野家", TextNormalizer.Normalize("𠮷野家"));
}
