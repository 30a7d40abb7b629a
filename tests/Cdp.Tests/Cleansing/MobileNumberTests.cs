using Cdp.Shared.Cleansing;

namespace Cdp.Tests.Cleansing;

public class MobileNumberTests
{
    [Theory]
    [InlineData("13812345678", "13812345678")]
    [InlineData("+86 138-1234-5678", "13812345678")]
    [InlineData("+8613812345678", "13812345678")]
    [InlineData("0086 13812345678", "13812345678")]
    [InlineData("8613812345678", "13812345678")]
    [InlineData("86 138 1234 5678", "13812345678")]
    [InlineData("８６１３８１２３４５６７８", "13812345678")]          // full-width, from a Chinese IME
    [InlineData("＋８６　１３８－１２３４－５６７８", "13812345678")]
    [InlineData("(+86) 138.1234.5678", "13812345678")]
    [InlineData(" 199 0000 0000 ", "19900000000")]
    [InlineData("\u200B13912345678", "13912345678")]
    public void AcceptsMainlandMobiles(string raw, string expected)
    {
        Assert.True(MobileNumber.TryNormalize(raw, out var canonical));
        Assert.Equal(expected, canonical);
    }

    [Theory]
    [InlineData("1381234567")]          // 10 digits
    [InlineData("138123456789")]        // 12 digits
    [InlineData("12812345678")]         // second digit 2
    [InlineData("10012345678")]
    [InlineData("021-12345678")]        // a Shanghai landline in the mobile field
    [InlineData("010 8888 8888")]
    [InlineData("+1 415 555 0100")]     // foreign
    [InlineData("+852 9123 4567")]      // Hong Kong
    [InlineData("138 1234 5678 ext 1")]
    [InlineData("138/1234/5678")]
    [InlineData("13812345678+")]
    [InlineData("86 0138 1234 5678")]   // 14 digits
    [InlineData("n/a")]
    [InlineData("-")]
    public void RejectsWhatCannotBeAMainlandMobile(string raw)
    {
        Assert.False(MobileNumber.TryNormalize(raw, out var canonical, out var problem));
        Assert.Null(canonical);
        Assert.False(string.IsNullOrWhiteSpace(problem));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("  ")]
    [InlineData("\u3000")]
    public void AbsentIsNotInvalid(string? raw)
    {
        Assert.True(MobileNumber.TryNormalize(raw, out var canonical));
        Assert.Null(canonical);
    }

    [Fact]
    public void LandlineProblemSaysSoWithoutTheNumber()
    {
        MobileNumber.TryNormalize("021-12345678", out _, out var problem);
        Assert.Contains("landline", problem);
        Assert.DoesNotContain("12345678", problem);
    }

    [Theory]
    [InlineData("13812345678", "138****5678")]
    [InlineData("+86 138-1234-5678", "138****5678")]
    [InlineData("1381234567", "138***4567")]     // invalid numbers are masked too
    [InlineData("12345", "****")]
    public void Masks(string raw, string expected) => Assert.Equal(expected, MobileNumber.Mask(raw));

    [Fact]
    public void MaskOfNothingIsNull() => Assert.Null(MobileNumber.Mask(" "));
}
