using System.Globalization;
using System.Xml;
using System.Xml.Linq;

namespace Cdp.Shared.Channels.WeCom;

/// <summary>The change types of a <c>change_external_contact</c> event.</summary>
public static class WeComChangeTypes
{
    public const string AddExternalContact = "add_external_contact";
    public const string EditExternalContact = "edit_external_contact";
    public const string AddHalfExternalContact = "add_half_external_contact";
    public const string DelExternalContact = "del_external_contact";
    public const string DelFollowUser = "del_follow_user";
    public const string TransferFail = "transfer_fail";
}

/// <summary>
/// A decrypted callback event. <c>change_external_contact</c> events carry ids only; the contact's details are
/// fetched from the API. Fields absent for the event type are null.
/// </summary>
/// <param name="CreateTime">Unix seconds, as sent.</param>
public sealed record WeComEvent(
    string ToUserName,
    string? FromUserName,
    long CreateTime,
    string MsgType,
    string? Event,
    string? ChangeType,
    string? UserId,
    string? ExternalUserId,
    string? State,
    string? WelcomeCode,
    string? FailReason)
{
    public const string ChangeExternalContact = "change_external_contact";

    public DateTimeOffset CreatedAt => DateTimeOffset.FromUnixTimeSeconds(CreateTime);

    public bool IsExternalContactChange => Event == ChangeExternalContact;

    /// <summary>
    /// WeCom resends callbacks it got no timely answer for, with identical content; these fields identify an event.
    /// </summary>
    public string DeduplicationKey =>
        string.Join('|', ToUserName, CreateTime.ToString(CultureInfo.InvariantCulture), Event, ChangeType, UserId, ExternalUserId);
}

/// <summary>Parses the callback envelope and the decrypted event. DTDs are refused (no XXE) and size is capped.</summary>
public static class WeComCallbackMessage
{
    /// <summary>Callbacks are a few hundred bytes; anything far larger is not from WeCom.</summary>
    public const int MaxXmlChars = 64 * 1024;

    /// <summary>The <c>Encrypt</c> element of the outer envelope.</summary>
    public static string ReadEncrypt(string xml)
    {
        var root = Load(xml);
        var encrypt = Text(root, "Encrypt");
        return string.IsNullOrWhiteSpace(encrypt)
            ? throw new WeComFormatException("The callback has no Encrypt element.")
            : encrypt.Trim();
    }

    /// <summary>The decrypted inner XML as an event.</summary>
    public static WeComEvent ParseEvent(string xml)
    {
        var root = Load(xml);
        var toUserName = Text(root, "ToUserName");
        var msgType = Text(root, "MsgType");
        var createTimeText = Text(root, "CreateTime");
        if (string.IsNullOrEmpty(toUserName) || string.IsNullOrEmpty(msgType) || string.IsNullOrEmpty(createTimeText))
        {
            throw new WeComFormatException("The event lacks ToUserName, MsgType or CreateTime.");
        }

        if (!long.TryParse(createTimeText, NumberStyles.None, CultureInfo.InvariantCulture, out var createTime)
            || createTime > DateTimeOffset.MaxValue.ToUnixTimeSeconds())
        {
            throw new WeComFormatException("CreateTime is not unix seconds.");
        }

        return new WeComEvent(
            toUserName,
            Text(root, "FromUserName"),
            createTime,
            msgType,
            Text(root, "Event"),
            Text(root, "ChangeType"),
            Text(root, "UserID"),
            Text(root, "ExternalUserID"),
            Text(root, "State"),
            Text(root, "WelcomeCode"),
            Text(root, "FailReason"));
    }

    private static XElement Load(string xml)
    {
        if (string.IsNullOrWhiteSpace(xml))
        {
            throw new WeComFormatException("The XML is empty.");
        }

        if (xml.Length > MaxXmlChars)
        {
            throw new WeComFormatException("The XML is too large.");
        }

        var settings = new XmlReaderSettings
        {
            DtdProcessing = DtdProcessing.Prohibit,
            XmlResolver = null,
            MaxCharactersInDocument = MaxXmlChars,
            MaxCharactersFromEntities = 0,
            IgnoreComments = true,
            IgnoreProcessingInstructions = true,
        };
        try
        {
            using var reader = XmlReader.Create(new StringReader(xml), settings);
            var root = XDocument.Load(reader).Root;
            return root is { Name.LocalName: "xml" } ? root : throw new WeComFormatException("The root element is not <xml>.");
        }
        catch (XmlException ex)
        {
            throw new WeComFormatException("The XML is malformed.", ex);
        }
    }

    private static string? Text(XElement root, string name) => root.Element(name)?.Value;
}
