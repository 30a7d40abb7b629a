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
    // Foreign mobiles were refused by the hand-written rules; issue 10 keeps them, in E.164.
    [InlineData("+1 415 555 0100", "+14155550100")]
    [InlineData("+852 9123 4567", "+85291234567")]
    [InlineData("00852 9123 4567", "+85291234567")]
    [InlineData("+886 912 345 678", "+886912345678")]
    [InlineData("+65 8123 4567", "+6581234567")]
    public void AcceptsMainlandMobiles(string raw, string expected)
    {
        Assert.True(MobileNumber.TryNormalize(raw, out var canonical));
        Assert.Equal(expected, canonical);
    }

    [Theory]
    [InlineData("1381234567")]          // 10 digits
    [InlineData("138123456789")]        // 12 digits
    [InlineData("12812345678")]         // second digit 2: unallocated (kept by TryClassify, never a key)
    [InlineData("10012345678")]
    [InlineData("14012345678")]         // a data-only segment
    [InlineData("021-12345678")]        // a Shanghai landline in the mobile field (kept by TryClassify as a business's)
    [InlineData("010 8888 8888")]
    [InlineData("400-812-3456")]
    [InlineData("138 1234 5678 ext 1")]
    [InlineData("138/1234/5678")]
    [InlineData("13812345678+")]
    [InlineData("86 0138 1234 5678")]   // 14 digits
    [InlineData("n/a")]
    [InlineData("-")]
    [InlineData("+999 1234 5678")]      // no such country code
    [InlineData("+852 1234")]           // too short for Hong Kong
    public void RejectsWhatCannotBeAPersonsMobile(string raw)
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

/// <summary>
/// Cases from libphonenumber's own metadata (its example number per region and type), so the expectations follow
/// the numbering plan the package ships rather than numbers we made up; plus hand cases the metadata has no example
/// for (400 in its usual spelling, 95xxx, the 14x data-only segments).
/// </summary>
public class PhoneClassificationTests
{
    static readonly PhoneNumbers.PhoneNumberUtil Util = PhoneNumbers.PhoneNumberUtil.GetInstance();

    static string Example(string region, PhoneNumbers.PhoneNumberType type) =>
        Util.Format(Util.GetExampleNumberForType(region, type), PhoneNumbers.PhoneNumberFormat.E164);

    static string National(string region, PhoneNumbers.PhoneNumberType type) =>
        Util.Format(Util.GetExampleNumberForType(region, type), PhoneNumbers.PhoneNumberFormat.NATIONAL);

    static ClassifiedPhone Classify(string raw)
    {
        Assert.True(MobileNumber.TryClassify(raw, out var phone, out var problem), problem);
        return Assert.IsType<ClassifiedPhone>(phone);
    }

    [Fact]
    public void The_plans_mainland_mobile_is_a_key_in_11_digits_in_every_spelling()
    {
        var e164 = Example("CN", PhoneNumbers.PhoneNumberType.MOBILE);
        var digits = e164[3..];
        foreach (var raw in new[] { e164, digits, National("CN", PhoneNumbers.PhoneNumberType.MOBILE), "0086" + digits, "86" + digits })
        {
            Assert.Equal(new ClassifiedPhone(digits, PhoneKind.Mobile), Classify(raw));
            Assert.True(MobileNumber.TryNormalize(raw, out var canonical));
            Assert.Equal(digits, canonical);
        }
    }

    [Fact]
    public void The_plans_mainland_landline_is_a_business_number_in_E164_and_never_a_key()
    {
        var e164 = Example("CN", PhoneNumbers.PhoneNumberType.FIXED_LINE);
        var phone = Classify(National("CN", PhoneNumbers.PhoneNumberType.FIXED_LINE));

        Assert.Equal(new ClassifiedPhone(e164, PhoneKind.Landline), phone);
        Assert.False(phone.IsIdentityKey);
        Assert.False(MobileNumber.TryNormalize(e164, out _, out var problem));
        Assert.Contains("landline", problem);
    }

    [Theory]
    [InlineData(PhoneNumbers.PhoneNumberType.TOLL_FREE, PhoneKind.TollFree)]      // 800
    [InlineData(PhoneNumbers.PhoneNumberType.SHARED_COST, PhoneKind.SharedCost)]  // 400
    public void The_plans_800_and_400_examples_are_business_numbers(PhoneNumbers.PhoneNumberType type, PhoneKind kind)
    {
        var phone = Classify(National("CN", type));
        Assert.Equal(new ClassifiedPhone(Example("CN", type), kind), phone);
        Assert.False(phone.IsIdentityKey);
        Assert.False(phone.IsFlagged);
    }

    [Theory]
    [InlineData("HK")]
    [InlineData("TW")]
    [InlineData("SG")]
    [InlineData("US")]
    [InlineData("GB")]
    [InlineData("JP")]
    public void The_plans_foreign_mobiles_are_kept_in_E164_as_keys(string region)
    {
        var e164 = Example(region, PhoneNumbers.PhoneNumberType.MOBILE);
        var phone = Classify(e164);

        Assert.Equal(new ClassifiedPhone(e164, PhoneKind.Mobile), phone);
        Assert.True(phone.IsIdentityKey);
        Assert.True(MobileNumber.TryNormalize(e164, out var canonical));
        Assert.Equal(e164, canonical);
    }

    [Fact]
    public void A_foreign_landline_is_a_business_number()
    {
        var e164 = Example("GB", PhoneNumbers.PhoneNumberType.FIXED_LINE);
        Assert.Equal(new ClassifiedPhone(e164, PhoneKind.Landline), Classify(e164));
    }

    [Theory]
    [InlineData("400-812-3456", "+864008123456", PhoneKind.SharedCost)]
    [InlineData("４００ ８１２ ３４５６", "+864008123456", PhoneKind.SharedCost)]
    [InlineData("800 812 3456", "+868008123456", PhoneKind.TollFree)]
    [InlineData("95588", "95588", PhoneKind.Service)]
    [InlineData("95105888", "95105888", PhoneKind.Service)]
    [InlineData("(021) 6234 5678", "+862162345678", PhoneKind.Landline)]
    public void Hand_cases_for_business_numbers(string raw, string canonical, PhoneKind kind) =>
        Assert.Equal(new ClassifiedPhone(canonical, kind), Classify(raw));

    [Theory]
    [InlineData("140 1234 5678", "14012345678")]      // 11-digit data-only cards
    [InlineData("+86 146 1234 5678", "14612345678")]
    [InlineData("14812345678", "14812345678")]
    [InlineData("1440 1234 56789", "1440123456789")]  // 13-digit IoT
    public void Data_only_segments_are_kept_and_flagged_never_keys(string raw, string canonical)
    {
        // The plan's own answer: not a valid number, and not a mobile.
        var parsed = Util.Parse(canonical, "CN");
        Assert.False(Util.IsValidNumber(parsed));
        Assert.NotEqual(PhoneNumbers.PhoneNumberType.MOBILE, Util.GetNumberType(parsed));

        var phone = Classify(raw);
        Assert.Equal(new ClassifiedPhone(canonical, PhoneKind.DataOnly), phone);
        Assert.True(phone.IsFlagged);
        Assert.False(phone.IsIdentityKey);
        Assert.Equal("data_only", phone.TypeName);
    }

    [Theory]
    [InlineData("12812345678")]
    [InlineData("10012345678")]
    [InlineData("17412345678")]
    public void Unallocated_mobile_shapes_are_kept_and_flagged(string raw)
    {
        var phone = Classify(raw);
        Assert.Equal(new ClassifiedPhone(raw, PhoneKind.Unallocated), phone);
        Assert.True(phone.IsFlagged);
        Assert.False(MobileNumber.TryNormalize(raw, out _));
    }

    [Fact]
    public void Segments_the_plan_lists_as_mobile_are_mobiles_even_in_14x()
    {
        // 145/147 were data segments once; the current plan (and so the metadata) has voice on them.
        foreach (var raw in new[] { "14512345678", "14712345678", "19212345678", "16212345678" })
            Assert.Equal(PhoneKind.Mobile, Classify(raw).Kind);
    }
}
