using System.Globalization;
using Cdp.Shared.Channels.WeCom;

namespace Cdp.Tests.Support;

/// <summary>Builds callbacks the way WeCom sends them, for parser tests now and endpoint tests later.</summary>
public static class WeComCallbacks
{
    public sealed record SignedCallback(string MsgSignature, string Timestamp, string Nonce, string Encrypted, string Body)
    {
        /// <summary>The query string WeCom appends to the callback URL (values URL-encoded).</summary>
        public string Query =>
            $"msg_signature={Uri.EscapeDataString(MsgSignature)}&timestamp={Timestamp}&nonce={Uri.EscapeDataString(Nonce)}";
    }

    public static string ChangeExternalContactXml(
        string corpId, string changeType, string userId, string externalUserId, long createTime = 1_700_000_000,
        string? state = null, string? welcomeCode = null) =>
        $"""
        <xml><ToUserName><![CDATA[{corpId}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName><CreateTime>{createTime.ToString(CultureInfo.InvariantCulture)}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event><ChangeType><![CDATA[{changeType}]]></ChangeType><UserID><![CDATA[{userId}]]></UserID><ExternalUserID><![CDATA[{externalUserId}]]></ExternalUserID>{(state is null ? "" : $"<State><![CDATA[{state}]]></State>")}{(welcomeCode is null ? "" : $"<WelcomeCode><![CDATA[{welcomeCode}]]></WelcomeCode>")}</xml>
        """;

    /// <summary>Encrypts <paramref name="innerXml"/>, wraps it in the outer envelope and signs it.</summary>
    public static SignedCallback Build(WeComCrypto crypto, string corpId, string innerXml, string agentId = "1000002")
    {
        var encrypted = crypto.Encrypt(innerXml);
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var nonce = Guid.NewGuid().ToString("N")[..10];
        var body = $"<xml><ToUserName><![CDATA[{corpId}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt><AgentID><![CDATA[{agentId}]]></AgentID></xml>";
        return new SignedCallback(crypto.Sign(timestamp, nonce, encrypted), timestamp, nonce, encrypted, body);
    }
}
