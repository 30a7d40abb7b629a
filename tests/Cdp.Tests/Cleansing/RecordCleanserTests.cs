using Cdp.Shared.Cleansing;
using Cdp.Shared.Ingestion;

namespace Cdp.Tests.Cleansing;

public class RecordCleanserTests
{
    private const string ValidCreditCode = "91110000802100433B";

    private static CustomerRecord Record(EntityKind kind = EntityKind.Lead) => new()
    {
        Channel = "crm",
        SourceId = "L-1001",
        Kind = kind,
        ModifiedAt = new DateTimeOffset(2025, 3, 1, 8, 0, 0, TimeSpan.FromHours(8)),
    };

    [Fact]
    public void NormalisesEveryField()
    {
        var record = Record() with
        {
            Channel = " crm ",
            SourceId = "L-1001\u200B",
            Name = "  张　伟 ",
            Company = "北京字节跳动科技有限公司 ",
            Mobile = "+86 138-1234-5678",
            Phone = "０１０－８８８８８８８８",
            Email = " Zhang.Wei＠Example.COM ",
            City = "北京市",
            CreditCode = "9111 0000 8021 0043 3b",
            Title = "销售　总监",
            LeadSource = "\uFEFFwebsite",
            CampaignId = " cmp-1 ",
            WeComExternalUserId = " wmABC ",
            OpenId = "oXYZ ",
            UnionId = " u1",
            UtmSource = "ｂａｉｄｕ",
            UtmCampaign = "spring\t2025",
        };

        var result = RecordCleanser.Cleanse(record);

        Assert.False(result.IsRejected);
        Assert.Empty(result.Errors);
        var clean = result.Clean!;
        Assert.Equal("北京字节跳动科技有限公司", clean.CompanyFullName);
        Assert.Equal("字节跳动科技", clean.CompanyShortName);
        var r = clean.Record;
        Assert.Equal("crm", r.Channel);
        Assert.Equal("L-1001", r.SourceId);
        Assert.Equal("张 伟", r.Name);
        Assert.Equal("北京字节跳动科技有限公司", r.Company);
        Assert.Equal("13812345678", r.Mobile);
        Assert.Equal("010-88888888", r.Phone);
        Assert.Equal("zhang.wei@example.com", r.Email);
        Assert.Equal("北京", r.City);
        Assert.Equal(ValidCreditCode, r.CreditCode);
        Assert.Equal("销售 总监", r.Title);
        Assert.Equal("website", r.LeadSource);
        Assert.Equal("cmp-1", r.CampaignId);
        Assert.Equal("wmABC", r.WeComExternalUserId);
        Assert.Equal("oXYZ", r.OpenId);
        Assert.Equal("u1", r.UnionId);
        Assert.Equal("baidu", r.UtmSource);
        Assert.Equal("spring 2025", r.UtmCampaign);
        Assert.Equal(record.ModifiedAt, r.ModifiedAt);
        Assert.Equal(EntityKind.Lead, r.Kind);
    }

    [Theory]
    [InlineData("上海市", "上海")]
    [InlineData("上海", "上海")]
    [InlineData(" 深圳市 ", "深圳")]
    [InlineData("市", "市")]
    [InlineData("Shanghai", "Shanghai")]
    public void CityLosesTrailingShi(string raw, string expected)
    {
        var result = RecordCleanser.Cleanse(Record() with { Name = "张伟", Mobile = "13812345678", City = raw });
        Assert.Equal(expected, result.Clean!.Record.City);
    }

    [Theory]
    [InlineData("1381234567", "digits")]
    [InlineData("0211234", "landline")]
    [InlineData("+999 1234 5678", "country code")]
    public void InvalidMobileIsAFieldErrorWithoutTheNumber(string mobile, string hint)
    {
        var result = RecordCleanser.Cleanse(Record() with { Name = "张伟", Mobile = mobile, Email = "z@example.com" });

        var error = Assert.Single(result.Errors);
        Assert.True(result.IsRejected);
        Assert.Equal("mobile", error.Field);
        Assert.Contains(hint, error.Message);
        Assert.DoesNotContain(new string(mobile.Where(char.IsAsciiDigit).ToArray()), error.Message);
    }

    [Fact]
    public void InvalidEmailIsAFieldErrorWithoutTheAddress()
    {
        var result = RecordCleanser.Cleanse(Record() with { Name = "张伟", Mobile = "13812345678", Email = "zhang..wei@example.com" });

        var error = Assert.Single(result.Errors);
        Assert.Equal("email", error.Field);
        Assert.Contains("dots", error.Message);
        Assert.DoesNotContain("zhang", error.Message);
    }

    [Theory]
    [InlineData("91110000802100433C")]
    [InlineData("91350211M0000XUF46")]
    public void CreditCodeFailingTheCheckCharacterIsKeptUnverified(string code)
    {
        var result = RecordCleanser.Cleanse(Record(EntityKind.Account) with { Company = "字节跳动", CreditCode = code.ToLowerInvariant() });

        Assert.False(result.IsRejected);
        Assert.Equal(code, result.Clean!.Record.CreditCode);
        Assert.True(result.Clean.CreditCodeUnverified);
        Assert.False(RecordCleanser.Cleanse(Record(EntityKind.Account) with { Company = "字节跳动", CreditCode = ValidCreditCode }).Clean!.CreditCodeUnverified);
    }

    [Fact]
    public void CreditCodeOfTheWrongShapeIsStillAFieldError()
    {
        var error = Assert.Single(RecordCleanser.Cleanse(Record(EntityKind.Account) with { Company = "字节跳动", CreditCode = "91110000802100433" }).Errors);
        Assert.Equal("creditCode", error.Field);
    }

    [Fact]
    public void CollectsEveryErrorNotJustTheFirst()
    {
        var result = RecordCleanser.Cleanse(Record() with
        {
            Mobile = "1281234567",
            Email = "no-at-sign",
            CreditCode = "9111000080210043IB",
        });

        Assert.True(result.IsRejected);
        Assert.Null(result.Clean);
        Assert.Equal(
            ["mobile", "email", "creditCode", "name", "mobile"],
            result.Errors.Select(e => e.Field));
        Assert.Contains("name or a company", result.Errors[3].Message);
        Assert.Contains("way to reach", result.Errors[4].Message);
    }

    [Theory]
    [InlineData("张伟", null, "13812345678", null, null, null, null)]
    [InlineData(null, "字节跳动", null, "z@example.com", null, null, null)]
    [InlineData("张伟", null, null, null, "oOpenId", null, null)]
    [InlineData("张伟", null, null, null, null, "uUnionId", null)]
    [InlineData("张伟", null, null, null, null, null, "wmExternal")]
    public void LeadNeedsNameOrCompanyAndOneWayToReachIt(
        string? name, string? company, string? mobile, string? email, string? openId, string? unionId, string? weCom)
    {
        var record = Record(EntityKind.Lead) with
        {
            Name = name, Company = company, Mobile = mobile, Email = email,
            OpenId = openId, UnionId = unionId, WeComExternalUserId = weCom,
        };

        Assert.False(RecordCleanser.Cleanse(record).IsRejected);
    }

    [Fact]
    public void LeadWithNothingListsBothRequirements()
    {
        var result = RecordCleanser.Cleanse(Record(EntityKind.Lead) with { Name = "  ", Company = "\u3000", Title = "CEO" });

        Assert.Equal(["name", "mobile"], result.Errors.Select(e => e.Field));
    }

    [Theory]
    [InlineData("张伟", "13812345678", null, null, false)]
    [InlineData("张伟", null, "z@example.com", null, false)]
    [InlineData("张伟", null, null, "wmExternal", false)]
    [InlineData(null, "13812345678", null, null, true)]    // a contact without a name
    public void ContactNeedsNameAndOneWayToReachIt(string? name, string? mobile, string? email, string? weCom, bool rejected)
    {
        var record = Record(EntityKind.Contact) with { Name = name, Mobile = mobile, Email = email, WeComExternalUserId = weCom };

        Assert.Equal(rejected, RecordCleanser.Cleanse(record).IsRejected);
    }

    [Fact]
    public void ContactReachableOnlyByOpenIdIsRejected()
    {
        // WeChat ids identify a follower, not a contact someone in sales can call or mail.
        var result = RecordCleanser.Cleanse(Record(EntityKind.Contact) with { Name = "张伟", OpenId = "oOpenId", UnionId = "uUnionId" });

        var error = Assert.Single(result.Errors);
        Assert.Equal("mobile", error.Field);
    }

    [Fact]
    public void ContactWithOnlyAnInvalidMobileGetsBothErrors()
    {
        var result = RecordCleanser.Cleanse(Record(EntityKind.Contact) with { Mobile = "1381234567" });

        Assert.Equal(["mobile", "name", "mobile"], result.Errors.Select(e => e.Field));
    }

    // Issue 10: these were rejected as "not a mainland mobile" by the hand-written rules; now the record is kept,
    // the number kept in phone with its type, and the mobile (the identity key) left empty.
    [Theory]
    [InlineData("021-12345678", "+862112345678", "landline")]
    [InlineData("400-812-3456", "+864008123456", "shared_cost")]
    [InlineData("800 812 3456", "+868008123456", "toll_free")]
    [InlineData("95588", "95588", "service")]
    [InlineData("140 1234 5678", "14012345678", "data_only")]
    [InlineData("12812345678", "12812345678", "unallocated")]
    public void A_number_in_the_mobile_field_that_is_no_persons_mobile_is_kept_in_phone_typed(string raw, string phone, string type)
    {
        var result = RecordCleanser.Cleanse(Record(EntityKind.Contact) with { Name = "张伟", Mobile = raw });

        Assert.False(result.IsRejected, string.Join("; ", result.Errors.Select(e => e.Message)));
        Assert.Null(result.Clean!.Record.Mobile);
        Assert.Equal((phone, type), (result.Clean.Record.Phone, result.Clean.PhoneType));
    }

    [Fact]
    public void A_business_number_from_the_mobile_field_joins_the_records_own_phone()
    {
        var result = RecordCleanser.Cleanse(Record(EntityKind.Lead) with { Name = "张伟", Mobile = "400-812-3456", Phone = "010-88888888" });

        Assert.Equal(("010-88888888; +864008123456", "shared_cost"), (result.Clean!.Record.Phone, result.Clean.PhoneType));
    }

    [Fact]
    public void A_foreign_mobile_is_the_records_mobile_in_E164()
    {
        var result = RecordCleanser.Cleanse(Record(EntityKind.Contact) with { Name = "陈大文", Mobile = "+852 9123 4567" });

        Assert.Equal("+85291234567", result.Clean!.Record.Mobile);
        Assert.Null(result.Clean.PhoneType);
    }

    [Fact]
    public void The_records_own_landline_is_typed_and_left_as_written()
    {
        var result = RecordCleanser.Cleanse(Record(EntityKind.Contact) with { Name = "张伟", Mobile = "13812345678", Phone = "010-88888888" });

        Assert.Equal(("13812345678", "010-88888888", "landline"), (result.Clean!.Record.Mobile, result.Clean.Record.Phone, result.Clean.PhoneType));
    }

    [Theory]
    [InlineData("字节跳动", null, false)]
    [InlineData(null, ValidCreditCode, false)]
    [InlineData(null, null, true)]
    [InlineData(" ", "  ", true)]
    public void AccountNeedsCompanyOrCreditCode(string? company, string? creditCode, bool rejected)
    {
        var result = RecordCleanser.Cleanse(Record(EntityKind.Account) with { Company = company, CreditCode = creditCode });

        Assert.Equal(rejected, result.IsRejected);
        if (rejected)
        {
            Assert.Equal("company", Assert.Single(result.Errors).Field);
        }
    }

    [Fact]
    public void AccountWithOnlyAnInvalidCreditCodeListsBothErrors()
    {
        var result = RecordCleanser.Cleanse(Record(EntityKind.Account) with { CreditCode = "91110000802100433" });

        Assert.Equal(["creditCode", "company"], result.Errors.Select(e => e.Field));
    }

    [Fact]
    public void AccountNameLivesInCompany()
    {
        var result = RecordCleanser.Cleanse(Record(EntityKind.Account) with { Company = "腾讯科技（深圳）有限公司" });

        Assert.Equal("腾讯科技(深圳)有限公司", result.Clean!.CompanyFullName);
        Assert.Equal("腾讯科技", result.Clean.CompanyShortName);
        Assert.Equal("腾讯科技(深圳)有限公司", result.Clean.Record.Company);
    }

    [Fact]
    public void MissingSourceIdIsRejected()
    {
        var result = RecordCleanser.Cleanse(Record() with { SourceId = " ", Name = "张伟", Mobile = "13812345678" });

        Assert.Equal("sourceId", Assert.Single(result.Errors).Field);
    }
}
