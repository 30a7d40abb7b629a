using System.ComponentModel.DataAnnotations;
using Cdp.Shared.Http;

namespace Cdp.Shared.Channels.WeCom;

/// <summary>Bound from the <c>WeCom</c> section; the names are part of the contract (shared/API.md).</summary>
public sealed class WeComOptions
{
    public const string Section = "WeCom";

    [Required]
    public string CorpId { get; set; } = "";

    /// <summary>Callback token used in msg_signature.</summary>
    [Required]
    public string Token { get; set; } = "";

    /// <summary>43 base64 characters; see <see cref="WeComCrypto.IsValidKey"/>.</summary>
    [Required]
    public string EncodingAesKey { get; set; } = "";

    /// <summary>The app secret for gettoken. Never logged.</summary>
    [Required]
    public string Secret { get; set; } = "";

    /// <summary>Replaceable so a stand-in server can play WeCom.</summary>
    [Required, Url]
    public string ApiBaseUrl { get; set; } = "https://qyapi.weixin.qq.com";

    /// <summary>The CDP's self-built WeCom app (应用 AgentId): staff sign in through it.</summary>
    public string? AgentId { get; set; }

    /// <summary>The ops group robot that receives alerts.</summary>
    [Url]
    public string? AlertWebhookUrl { get; set; }

    /// <summary>Refresh the access token this long before WeCom says it expires.</summary>
    public TimeSpan TokenRefreshMargin { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Resilience of calls to the WeCom API (section <c>WeCom:Http</c>).</summary>
    public OutboundHttpOptions Http { get; set; } = new();
}
