using Cdp.Shared.Channels.WeCom;
using Cdp.Tests.Support;

namespace Cdp.Tests.Channels.WeCom;

public class WeComCallbackMessageTests
{
    private const string CorpId = WeComStandIn.DefaultCorpId;
    private static readonly WeComCrypto Crypto = new(WeComStandIn.DefaultToken, WeComStandIn.DefaultEncodingAesKey, CorpId);

    [Fact]
    public void Reads_the_encrypt_element_of_the_envelope()
    {
        const string xml = "<xml><ToUserName><![CDATA[corp]]></ToUserName><Encrypt><![CDATA[abc+/==]]></Encrypt><AgentID><![CDATA[1000002]]></AgentID></xml>";
        Assert.Equal("abc+/==", WeComCallbackMessage.ReadEncrypt(xml));
    }

    [Fact]
    public void Parses_a_change_external_contact_event()
    {
        var xml = WeComCallbacks.ChangeExternalContactXml(
            CorpId, WeComChangeTypes.AddExternalContact, "zhangsan", "wmEXT001", 1_700_000_123, state: "expo", welcomeCode: "WC1");

        var e = WeComCallbackMessage.ParseEvent(xml);

        Assert.Equal(new WeComEvent(CorpId, "sys", 1_700_000_123, "event", "change_external_contact",
            "add_external_contact", "zhangsan", "wmEXT001", "expo", "WC1", null), e);
        Assert.True(e.IsExternalContactChange);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1_700_000_123), e.CreatedAt);
    }

    [Fact]
    public void A_resent_event_has_the_same_deduplication_key_and_another_change_does_not()
    {
        var first = WeComCallbackMessage.ParseEvent(WeComCallbacks.ChangeExternalContactXml(CorpId, "edit_external_contact", "u1", "wm1"));
        var resent = WeComCallbackMessage.ParseEvent(WeComCallbacks.ChangeExternalContactXml(CorpId, "edit_external_contact", "u1", "wm1"));
        var deleted = WeComCallbackMessage.ParseEvent(WeComCallbacks.ChangeExternalContactXml(CorpId, "del_external_contact", "u1", "wm1"));

        Assert.Equal(first.DeduplicationKey, resent.DeduplicationKey);
        Assert.NotEqual(first.DeduplicationKey, deleted.DeduplicationKey);
    }

    [Fact]
    public void A_signed_callback_round_trips_through_verification_decryption_and_parsing()
    {
        var callback = WeComCallbacks.Build(Crypto, CorpId,
            WeComCallbacks.ChangeExternalContactXml(CorpId, WeComChangeTypes.DelFollowUser, "lisi", "wmEXT002"));

        var encrypted = WeComCallbackMessage.ReadEncrypt(callback.Body);
        Assert.True(Crypto.VerifySignature(callback.MsgSignature, callback.Timestamp, callback.Nonce, encrypted));
        var e = WeComCallbackMessage.ParseEvent(Crypto.Decrypt(encrypted));

        Assert.Equal(("del_follow_user", "lisi", "wmEXT002"), (e.ChangeType, e.UserId, e.ExternalUserId));
    }

    [Theory]
    [InlineData("")]
    [InlineData("not xml")]
    [InlineData("<xml><Encrypt>unclosed</xml>")]
    [InlineData("<other><Encrypt>x</Encrypt></other>")]
    [InlineData("<xml><ToUserName>corp</ToUserName></xml>")]
    [InlineData("<xml><Encrypt>   </Encrypt></xml>")]
    public void Malformed_envelopes_are_format_errors(string xml) =>
        Assert.Throws<WeComFormatException>(() => WeComCallbackMessage.ReadEncrypt(xml));

    [Fact]
    public void Refuses_dtds_so_external_entities_are_never_resolved()
    {
        const string xxe = """
            <?xml version="1.0"?>
            <!DOCTYPE xml [<!ENTITY steal SYSTEM "file:///etc/passwd">]>
            <xml><Encrypt>&steal;</Encrypt></xml>
            """;
        Assert.Throws<WeComFormatException>(() => WeComCallbackMessage.ReadEncrypt(xxe));
    }

    [Fact]
    public void Refuses_oversized_documents()
    {
        var xml = "<xml><Encrypt>" + new string('A', WeComCallbackMessage.MaxXmlChars) + "</Encrypt></xml>";
        Assert.Throws<WeComFormatException>(() => WeComCallbackMessage.ReadEncrypt(xml));
    }

    [Theory]
    [InlineData("<xml><MsgType>event</MsgType><CreateTime>1</CreateTime></xml>")]
    [InlineData("<xml><ToUserName>c</ToUserName><CreateTime>1</CreateTime></xml>")]
    [InlineData("<xml><ToUserName>c</ToUserName><MsgType>event</MsgType></xml>")]
    [InlineData("<xml><ToUserName>c</ToUserName><MsgType>event</MsgType><CreateTime>yesterday</CreateTime></xml>")]
    [InlineData("<xml><ToUserName>c</ToUserName><MsgType>event</MsgType><CreateTime>-5</CreateTime></xml>")]
    public void Events_without_their_common_fields_are_format_errors(string xml) =>
        Assert.Throws<WeComFormatException>(() => WeComCallbackMessage.ParseEvent(xml));
}
