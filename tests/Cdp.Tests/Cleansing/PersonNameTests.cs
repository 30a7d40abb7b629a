using Cdp.Shared.Cleansing;

namespace Cdp.Tests.Cleansing;

public class PersonNameTests
{
    [Theory]
    [InlineData("张", "伟", "张伟")]
    [InlineData("欧阳", "娜娜", "欧阳娜娜")]                 // compound family name
    [InlineData(" 张 ", "　伟　", "张伟")]                   // ideographic spaces from an IME
    [InlineData("王", "小 明", "王小明")]
    [InlineData("Smith", "John", "John Smith")]
    [InlineData("  Smith ", " Mary  Ann ", "Mary Ann Smith")]
    [InlineData("Ｓｍｉｔｈ", "Ｊｏｈｎ", "John Smith")]      // full-width Latin
    [InlineData("van der Berg", "Anna", "Anna van der Berg")]
    [InlineData("张", null, "张")]
    [InlineData(null, "伟", "伟")]
    [InlineData("Smith", "", "Smith")]
    [InlineData("", "John", "John")]
    [InlineData("李 ", "  ", "李")]
    public void Composes(string? last, string? first, string expected) =>
        Assert.Equal(expected, PersonName.Compose(last, first));

    [Theory]
    [InlineData(null, null)]
    [InlineData("", " ")]
    [InlineData("\u3000", "\u200B")]
    public void NothingGivesNull(string? last, string? first) => Assert.Null(PersonName.Compose(last, first));
}
