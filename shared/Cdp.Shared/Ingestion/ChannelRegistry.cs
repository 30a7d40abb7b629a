using Cdp.Shared.VirtualNumbers;

namespace Cdp.Shared.Ingestion;

/// <summary>How a channel's pushes are authenticated.</summary>
public enum SignatureScheme
{
    /// <summary>X-Cdp-Timestamp + X-Cdp-Signature = hex HMAC-SHA256(Channels:{name}:SigningSecret, timestamp + "." + body).</summary>
    Hmac,
    /// <summary>WeCom's msg_signature over the encrypted XML (WeCom:Token, WeCom:EncodingAesKey).</summary>
    WeComCallback,
}

/// <summary>What a channel's payload becomes.</summary>
public enum PayloadKind
{
    /// <summary>A customer record (lead/contact/account): stored, then cleansed and resolved by the pipeline.</summary>
    CustomerRecord,
    /// <summary>Call records of the privacy-number provider: touchpoints of the contacts that took part.</summary>
    CallRecords,
}

/// <summary>
/// One channel, decided in one place: its name in /api/ingest/{name} and the channel table, how it signs, what its
/// payload becomes, the identity types it brings (those in <see cref="PersonalIdentityTypes"/> are a person's and
/// masked), whether its source ids are a person's, the lead-scoring points of a lead it brought, and its settings
/// section (<c>Channels:{name}</c>). Adding a channel is its descriptor in its own folder plus one line in <see cref="ChannelRegistry.All"/>.
/// </summary>
public sealed record ChannelDescriptor(
    string Name, string DisplayName, SignatureScheme Signature, PayloadKind Payload,
    IReadOnlyList<string> IdentityTypes, IReadOnlyList<string> PersonalIdentityTypes, bool SourceIdIsPersonal, int ScoringPoints)
{
    public string SettingsSection => $"Channels:{Name}";
}

/// <summary>The registration of every channel.</summary>
public static class ChannelRegistry
{
    public static readonly ChannelDescriptor Crm = new(ChannelNames.Crm, "CRM", SignatureScheme.Hmac, PayloadKind.CustomerRecord,
        IdentityTypes: ["source_record"], PersonalIdentityTypes: [], SourceIdIsPersonal: false, ScoringPoints: 20);

    public static readonly ChannelDescriptor WeCom = new(ChannelNames.WeCom, "企业微信", SignatureScheme.WeComCallback, PayloadKind.CustomerRecord,
        IdentityTypes: ["wecom_external_user"], PersonalIdentityTypes: ["wecom_external_user"], SourceIdIsPersonal: true, ScoringPoints: 18);

    public static readonly ChannelDescriptor WeChat = new(ChannelNames.WeChat, "微信公众号", SignatureScheme.Hmac, PayloadKind.CustomerRecord,
        IdentityTypes: ["wechat_unionid", "wechat_openid"], PersonalIdentityTypes: ["wechat_unionid", "wechat_openid"], SourceIdIsPersonal: true, ScoringPoints: 12);

    public static readonly ChannelDescriptor Erp = new(ChannelNames.Erp, "ERP", SignatureScheme.Hmac, PayloadKind.CustomerRecord,
        IdentityTypes: ["source_record"], PersonalIdentityTypes: [], SourceIdIsPersonal: false, ScoringPoints: 10);

    public static IReadOnlyList<ChannelDescriptor> All { get; } = [Crm, WeCom, WeChat, Erp, CallsChannel.Descriptor];

    public static ChannelDescriptor? Find(string? name) => All.FirstOrDefault(c => c.Name == name);

    /// <summary>"crm, wecom, wechat, erp, calls": for messages naming the known channels.</summary>
    public static string Known => string.Join(", ", All.Select(c => c.Name));
}
