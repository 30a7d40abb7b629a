using System.Text.RegularExpressions;
using Cdp.Shared.Cleansing;
using Cdp.Shared.Ingestion;

namespace Cdp.Shared.Access;

/// <summary>
/// How personal data looks to a caller without <c>pii:reveal</c> (PIPL art. 51, de-identification), in logs and in
/// alerts: enough to recognise a customer on the phone or in a list, not enough to call, write to or look them up
/// elsewhere. Every answer that carries personal data masks through here. Pure functions; null stays null.
/// </summary>
public static partial class PiiMask
{
    /// <summary>What a channel user id keeps: WeChat ids start "o" plus the app's few characters, WeCom's "wm"/"wo".</summary>
    const int IdPrefix = 4;

    /// <summary>
    /// Any phone number, mainland or foreign, mobile or landline: its first 3 and last 4 digits ("138****5678",
    /// "+86 138-1234-5678" too); fewer than 8 digits leave nothing safe to show ("****").
    /// </summary>
    public static string? Phone(string? value) => MobileNumber.Mask(value);

    /// <summary>"w***@example.com": the first character of the mailbox, the domain readable for support; no @ -> "***".</summary>
    public static string? Email(string? value) => EmailAddress.Mask(value);

    /// <summary>
    /// A WeChat unionId or openId or a WeCom external user id: its first 4 characters and "***" (never its length);
    /// a value shorter than 8 characters is all secret ("***").
    /// </summary>
    public static string? ChannelUserId(string? value) =>
        TextNormalizer.Normalize(value) is not { } id ? null
        : id.Length < 2 * IdPrefix ? "***"
        : string.Concat(id.AsSpan(0, IdPrefix), "***");

    /// <summary>The identity types whose ids are a person's (a CRM/ERP record id, <c>source_record</c>, is not).</summary>
    public static bool IsPersonalIdentity(string identityType) =>
        ChannelRegistry.All.Any(c => c.PersonalIdentityTypes.Contains(identityType));

    /// <summary>A channel identity's id as a masked caller sees it, by its type.</summary>
    public static string Identity(string identityType, string id) =>
        IsPersonalIdentity(identityType) ? ChannelUserId(id) ?? id : id;

    /// <summary>
    /// A record's id in its source system: for WeCom the external user id and for WeChat the openId (personal), for the
    /// CRM and the ERP their own record id (not).
    /// </summary>
    public static string SourceId(string channel, string sourceId) =>
        ChannelRegistry.Find(channel)?.SourceIdIsPersonal == true ? ChannelUserId(sourceId) ?? sourceId : sourceId;

    /// <summary>
    /// Free text (an error message, a note): every mainland mobile and every email address in it masked as above.
    /// Other digits stay: ids and amounts must remain readable, and landlines in free text are rare.
    /// </summary>
    public static string? Text(string? text) =>
        string.IsNullOrEmpty(text) ? text
        : MobileInText().Replace(EmailInText().Replace(text, m => Email(m.Value)!), m => Phone(m.Value)!);

    [GeneratedRegex(@"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")]
    private static partial Regex EmailInText();

    [GeneratedRegex(@"(?<!\d)1[3-9]\d{9}(?!\d)")]
    private static partial Regex MobileInText();
}
