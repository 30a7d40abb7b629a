namespace Cdp.Shared.Ingestion;

/// <summary>The channels that may post to /api/ingest/{channel}: the names of <see cref="ChannelRegistry.All"/>.</summary>
public static class ChannelNames
{
    public const string Crm = "crm";
    public const string WeCom = "wecom";
    public const string WeChat = "wechat";
    public const string Erp = "erp";

    public static readonly IReadOnlySet<string> All = new HashSet<string>(ChannelRegistry.All.Select(c => c.Name), StringComparer.Ordinal);

    /// <summary>Channels that sign with HMAC-SHA256 over "timestamp.body" (WeCom has its own scheme).</summary>
    public static bool UsesHmac(string channel) => ChannelRegistry.Find(channel)?.Signature == SignatureScheme.Hmac;
}

/// <summary>Bound from "Channels:{name}" (the secret names API.md fixes).</summary>
public sealed class ChannelOptions
{
    public string SigningSecret { get; set; } = "";

    /// <summary>The secret before the last rotation, accepted beside the current one until every sender has switched.</summary>
    public string? PreviousSigningSecret { get; set; }

    /// <summary>The secrets a signature may be made with: the current one, then the previous one when set.</summary>
    public IReadOnlyList<string> AcceptedSecrets() =>
        string.IsNullOrEmpty(PreviousSigningSecret) ? [SigningSecret] : [SigningSecret, PreviousSigningSecret];
}

/// <summary>Bound from "Ingestion".</summary>
public sealed class IngestionOptions
{
    public const string Section = "Ingestion";

    /// <summary>A CRM record is a few KB; anything near this limit is a mistake or an attack.</summary>
    public int MaxBodyBytes { get; set; } = 256 * 1024;

    /// <summary>Signed requests older or newer than this are refused (replays, skewed clocks).</summary>
    public TimeSpan TimestampTolerance { get; set; } = TimeSpan.FromMinutes(5);
}
