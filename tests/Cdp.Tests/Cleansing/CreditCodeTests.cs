using Cdp.Shared.Cleansing;

namespace Cdp.Tests.Cleansing;

public class CreditCodeTests
{
    // Check characters below were computed outside this code base and are re-derived by hand in
    // CheckCharacterMatchesAHandCalculation, so the implementation is not grading its own homework.
    private const string ValidB = "91110000802100433B";
    private const string ValidT = "91440300708461136T";

    [Fact]
    public void CheckCharacterMatchesAHandCalculation()
    {
        // GB 32100-2015: values 0..30 over "0123456789ABCDEFGHJKLMNPQRTUWXY", weights 3^(i-1) mod 31.
        //  pos:     1  2  3   4   5   6   7   8   9  10  11  12 13  14  15  16  17
        //  char:    9  1  1   1   0   0   0   0   8   0   2   1  0   0   4   3   3
        //  weight:  1  3  9  27  19  26  16  17  20  29  25  13  8  24  10  30  28
        var sum = 9 * 1 + 1 * 3 + 1 * 9 + 1 * 27 + 0 * 19 + 0 * 26 + 0 * 16 + 0 * 17 + 8 * 20 + 0 * 29
            + 2 * 25 + 1 * 13 + 0 * 8 + 0 * 24 + 4 * 10 + 3 * 30 + 3 * 28;
        Assert.Equal(485, sum);
        Assert.Equal(20, sum % 31);
        // 31 - 20 = 11; digits take values 0-9, so A = 10 and B = 11.
        Assert.Equal('B', CreditCode.ComputeCheckCharacter("91110000802100433"));
    }

    [Fact]
    public void WeightsArePowersOfThreeModuloThirtyOne()
    {
        // Changing one position by one unit must move the check value by exactly that position's weight.
        var expectedWeights = Enumerable.Range(0, 17).Select(i => (int)System.Numerics.BigInteger.ModPow(3, i, 31)).ToArray();
        const string baseline = "00000000000000000";
        Assert.Equal('0', CreditCode.ComputeCheckCharacter(baseline));
        for (var i = 0; i < 17; i++)
        {
            var probe = baseline[..i] + "1" + baseline[(i + 1)..];
            var expected = CreditCode.Alphabet[(31 - expectedWeights[i]) % 31];
            Assert.Equal(expected, CreditCode.ComputeCheckCharacter(probe));
        }
    }

    [Theory]
    [InlineData("91110000802100439", 'X')]
    [InlineData("91110000802100438", 'T')]
    [InlineData("9111000080210043Y", 'Y')]
    [InlineData("9111000080210043A", '1')]
    [InlineData("9111000080210043L", '0')]   // sum ≡ 0 (mod 31): the "mod 31" after "31 -" matters
    public void CheckCharacterCanBeAnyOfTheAlphabet(string first17, char expected) =>
        Assert.Equal(expected, CreditCode.ComputeCheckCharacter(first17));

    [Theory]
    [InlineData(ValidB, ValidB)]
    [InlineData(ValidT, ValidT)]
    [InlineData("91110000802100433b", ValidB)]                  // lower case
    [InlineData("9111 0000 8021 0043 3B", ValidB)]              // grouped for reading
    [InlineData("911100-008021-00433B", ValidB)]
    [InlineData("９１１１００００８０２１００４３３Ｂ", ValidB)]   // full-width
    [InlineData(" 91440300708461136t\u200B", ValidT)]
    [InlineData("91110000802100438T", "91110000802100438T")]   // letter check character
    public void AcceptsValidCodes(string raw, string expected)
    {
        Assert.True(CreditCode.TryNormalize(raw, out var canonical));
        Assert.Equal(expected, canonical);
    }

    [Theory]
    [InlineData("91110000802100433C", "check character")]      // wrong check character
    [InlineData("91110000802100434B", "check character")]      // one-digit typo
    [InlineData("91110000802100343B", "check character")]      // transposition
    [InlineData("91110000802100433", "17 characters")]
    [InlineData("91110000802100433B0", "19 characters")]
    [InlineData("9111000080210043IB", "letter I")]
    [InlineData("9111000080210043OB", "letter O")]
    [InlineData("9111000080210043SB", "letter S")]
    [InlineData("9111000080210043VB", "letter V")]
    [InlineData("9111000080210043ZB", "letter Z")]
    [InlineData("9111000080210043#B", "character other")]
    [InlineData("110108000000016", "15 characters")]            // old business registration number
    public void RejectsInvalidCodes(string raw, string expectedProblem)
    {
        Assert.False(CreditCode.TryNormalize(raw, out var canonical, out var problem));
        Assert.Null(canonical);
        Assert.Contains(expectedProblem, problem);
    }

    [Theory]
    [InlineData("91350211M0000XUF46")]                         // real, issued early, fails the check (Xiamen)
    [InlineData("91110000802100433C")]
    public void ACodeFailingOnlyTheCheckCharacterIsKeptUnverified(string raw)
    {
        Assert.True(CreditCode.TryNormalize(" " + raw.ToLowerInvariant(), out var canonical, out var problem, out var verified));
        Assert.Equal((raw, false), (canonical, verified));
        Assert.Contains("check character", problem);
        Assert.False(CreditCode.TryNormalize(raw, out _));   // the strict form still refuses it
    }

    [Theory]
    [InlineData("91110000802100433B", true, true)]
    [InlineData("9111000080210043IB", false, true)]            // the wrong shape is refused, not "unverified"
    [InlineData("91110000802100433", false, true)]
    public void TheLenientFormRefusesOnlyTheWrongShape(string raw, bool accepted, bool verified)
    {
        Assert.Equal(accepted, CreditCode.TryNormalize(raw, out var canonical, out _, out var isVerified));
        Assert.Equal(verified, isVerified);
        Assert.Equal(accepted, canonical is not null);
    }

    [Fact]
    public void ExcludedLettersAreRejectedEvenWhenOtherwiseWellFormed()
    {
        // Build a code whose check character is right for a prefix, then swap in each excluded letter.
        foreach (var letter in "IOSVZ")
        {
            var raw = "91110000802100" + letter + "33B";
            Assert.False(CreditCode.TryNormalize(raw, out _));
        }
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void AbsentIsNotInvalid(string? raw)
    {
        Assert.True(CreditCode.TryNormalize(raw, out var canonical));
        Assert.Null(canonical);
    }

    [Theory]
    [InlineData("9111000080210043")]
    [InlineData("911100008021004333")]
    [InlineData("9111000080210043I")]
    [InlineData("9111000080210043b")]
    public void ComputeCheckCharacterRefusesMalformedInput(string first17) =>
        Assert.Throws<ArgumentException>(() => CreditCode.ComputeCheckCharacter(first17));

    [Fact]
    public void EveryCodeBuiltWithComputeCheckCharacterIsAccepted()
    {
        var random = new Random(20150601);
        for (var n = 0; n < 500; n++)
        {
            var first17 = new string(Enumerable.Range(0, 17).Select(_ => CreditCode.Alphabet[random.Next(31)]).ToArray());
            var code = first17 + CreditCode.ComputeCheckCharacter(first17);
            Assert.True(CreditCode.TryNormalize(code.ToLowerInvariant(), out var canonical), code);
            Assert.Equal(code, canonical);

            // Any single-character change of the check character must be caught.
            var wrong = CreditCode.Alphabet[(CreditCode.Alphabet.IndexOf(code[17], StringComparison.Ordinal) + 1) % 31];
            Assert.False(CreditCode.TryNormalize(first17 + wrong, out _));
        }
    }
}
