using Cdp.Shared.Access;
using Cdp.Shared.Ingestion;

namespace Cdp.Tests.Access;

/// <summary>The masking every answer with personal data goes through, as pure functions.</summary>
public class PiiMaskTests
{
    [Theory]
    [InlineData("13812345678", "138****5678")]
    [InlineData("+86 138-1234-5678", "138****5678")]
    [InlineData("１３８１２３４５６７８", "138****5678")]      // full-width digits
    [InlineData("+44 20 7946 0958", "442*****0958")]        // foreign: digits only, first 3 and last 4
    [InlineData("+1 (415) 555-2671", "141****2671")]
    [InlineData("010-62345678", "010****5678")]              // a landline with its area code
    [InlineData("12345678", "123*5678")]
    [InlineData("1234567", "****")]                          // too short to show any of it
    [InlineData("12", "****")]
    [InlineData("n/a", "****")]
    public void Phones_keep_their_first_3_and_last_4_digits(string raw, string expected) => Assert.Equal(expected, PiiMask.Phone(raw));

    [Theory]
    [InlineData("wang.wei@example.com", "w***@example.com")]
    [InlineData("Zhang@QQ.com", "z***@qq.com")]
    [InlineData("a@b.cn", "a***@b.cn")]
    [InlineData("张伟@例子.中国", "张***@例子.中国")]   // not a valid address, still masked
    [InlineData("no-at-sign", "***")]
    [InlineData("@example.com", "***")]
    public void Emails_keep_the_first_character_and_the_domain(string raw, string expected) => Assert.Equal(expected, PiiMask.Email(raw));

    [Theory]
    [InlineData("o6_bmjrPTlm6_2sgVt7hMZOPfL2M", "o6_b***")]   // a WeChat unionId
    [InlineData("oLVPpjqs9BhvzwPj5A-vTYAX3GLc", "oLVP***")]   // an openId
    [InlineData("wmqfasd1e19278asas2341q2rq", "wmqf***")]      // a WeCom external user id
    [InlineData("wm12345", "***")]                             // short: nothing of it shown
    public void Channel_user_ids_keep_a_short_prefix(string raw, string expected) => Assert.Equal(expected, PiiMask.ChannelUserId(raw));

    [Fact]
    public void Nothing_stays_nothing()
    {
        Assert.Null(PiiMask.Phone(null));
        Assert.Null(PiiMask.Phone("  "));
        Assert.Null(PiiMask.Email(null));
        Assert.Null(PiiMask.ChannelUserId(null));
        Assert.Null(PiiMask.Text(null));
        Assert.Equal("", PiiMask.Text(""));
    }

    [Fact]
    public void Only_the_identities_that_are_a_person_are_masked()
    {
        Assert.Equal("oLVP***", PiiMask.Identity("wechat_openid", "oLVPpjqs9BhvzwPj5A-vTYAX3GLc"));
        Assert.Equal("wmqf***", PiiMask.Identity("wecom_external_user", "wmqfasd1e19278asas2341q2rq"));
        Assert.Equal("crm-00Q5g000001", PiiMask.Identity("source_record", "crm-00Q5g000001"));
        Assert.Equal("wmqf***", PiiMask.SourceId(ChannelNames.WeCom, "wmqfasd1e19278asas2341q2rq"));
        Assert.Equal("00Q5g000001abcd", PiiMask.SourceId(ChannelNames.Crm, "00Q5g000001abcd"));
    }

    [Fact]
    public void Free_text_has_its_mobiles_and_addresses_masked_and_keeps_other_numbers()
    {
        Assert.Equal("客户 138****5678 要回电, l***@example.com; 订单 20240101123456, 金额 13800",
            PiiMask.Text("客户 13812345678 要回电, li.lei@example.com; 订单 20240101123456, 金额 13800"));
    }

    [Fact]
    public void An_incoming_record_is_masked_field_by_field()
    {
        var record = new CustomerRecord
        {
            Channel = ChannelNames.WeChat, SourceId = "oLVPpjqs9BhvzwPj5A-vTYAX3GLc", Kind = EntityKind.Lead, ModifiedAt = DateTimeOffset.UnixEpoch,
            Name = "王伟", Company = "星河科技有限公司", Mobile = "13812345678", Phone = "021-62345678", Email = "wang.wei@example.com",
            OpenId = "oLVPpjqs9BhvzwPj5A-vTYAX3GLc", UnionId = "o6_bmjrPTlm6_2sgVt7hMZOPfL2M", WeComExternalUserId = "wmqfasd1e19278asas2341q2rq",
        };

        var masked = record.Masked();

        Assert.Equal(record with
        {
            SourceId = "oLVP***", Mobile = "138****5678", Phone = "021****5678", Email = "w***@example.com",
            OpenId = "oLVP***", UnionId = "o6_b***", WeComExternalUserId = "wmqf***",
        }, masked);
    }
}
