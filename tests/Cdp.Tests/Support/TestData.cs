namespace Cdp.Tests.Support;

/// <summary>Unique, valid test values so tests sharing a database never collide.</summary>
public static class TestData
{
    public static string Mobile() => "13" + Random.Shared.NextInt64(100_000_000, 999_999_999);

    public static string Email() => $"t{Guid.NewGuid():N}@example.com";

    public static string Id(string prefix = "src") => $"{prefix}-{Guid.NewGuid():N}";

    /// <summary>A random unified social credit code with a correct check character.</summary>
    public static string CreditCode()
    {
        var chars = Shared.Cleansing.CreditCode.Alphabet;
        var first17 = "91" + "110000" + new string(Enumerable.Range(0, 9).Select(_ => chars[Random.Shared.Next(chars.Length)]).ToArray());
        return first17 + Shared.Cleansing.CreditCode.ComputeCheckCharacter(first17);
    }

    /// <summary>A credit code of the right shape whose check character does not verify (as some early codes).</summary>
    public static string UnverifiedCreditCode()
    {
        var code = CreditCode();
        var chars = Shared.Cleansing.CreditCode.Alphabet;
        return code[..17] + chars[(chars.IndexOf(code[17], StringComparison.Ordinal) + 1) % chars.Length];
    }

    /// <summary>
    /// A company name nobody else in the run uses: random CJK characters from a block of several thousand, so two
    /// tests' names share no trigram by chance (a pool of a few dozen once made unrelated companies fuzzy matches).
    /// </summary>
    public static string CompanyWord(int length = 4) =>
        new(Enumerable.Range(0, length).Select(_ => (char)Random.Shared.Next(0x4E00, 0x6000)).ToArray());
}
