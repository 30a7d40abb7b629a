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

    /// <summary>A company name nobody else in the run uses: random CJK syllables.</summary>
    public static string CompanyWord(int length = 4)
    {
        const string pool = "华瑞腾嘉盛鑫恒达泰丰博远宏信安康和美源通创新智联佳德隆启明星辰海川云峰";
        return new string(Enumerable.Range(0, length).Select(_ => pool[Random.Shared.Next(pool.Length)]).ToArray());
    }
}
