using System.Globalization;
using System.Text.Json;
using Cdp.Shared.Access;
using Cdp.Shared.Channels.WeCom;
using Cdp.Shared.Conversion;
using Cdp.Shared.Messaging;
using Dapper;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Cdp.Shared.Notifications;

/// <summary>Section <c>Notifications</c>.</summary>
public sealed class NotificationOptions
{
    public const string Section = "Notifications";

    /// <summary>Where a notification's card links to (the console); the lead's page is {ConsoleUrl}/leads/{id}.</summary>
    public string ConsoleUrl { get; set; } = "http://localhost:7071";
}

/// <summary>
/// Consumes the notification topic: a converted lead (<see cref="LeadConvertedNotification"/>) is announced to the
/// salesperson concerned — the conversion's owner, else the lead's owners — as a WeCom app message (textcard from
/// <c>WeCom:AgentId</c>) through the WeCom client (its resilience pipeline retries transport failures; a failure
/// after that throws, so the topic retries and finally dead-letters). Sent once: the notification's key is inserted in
/// notification_sent in a transaction held across the send, so a redelivery finds it. No full phone number in the
/// text (names pass through <see cref="PiiMask.Text"/>).
/// </summary>
public sealed partial class NotifyOwner(
    NpgsqlDataSource db, WeComApiClient wecom, IOptions<WeComOptions> wecomOptions, IOptions<NotificationOptions> options,
    ILogger<NotifyOwner> logger) : ITopicHandler
{
    public string Topic => Topics.Notification;

    public async Task HandleAsync(TopicMessage message, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(message);
        LeadConvertedNotification notification;
        try
        {
            using var doc = JsonDocument.Parse(message.Payload);
            var type = doc.RootElement.TryGetProperty("type", out var t) ? t.GetString() : null;
            if (type != LeadConvertedNotification.Kind)
            {
                LogUnknown(logger, message.MessageId, type);
                return;
            }
            notification = message.Read<LeadConvertedNotification>();
        }
        catch (JsonException)
        {
            LogUnknown(logger, message.MessageId, null);
            return;
        }

        var agentId = wecomOptions.Value.AgentId;
        if (string.IsNullOrEmpty(agentId))
        {
            LogNoAgent(logger, notification.LeadId);
            return;
        }

        await using var conn = await db.OpenConnectionAsync(ct);
        var owners = !string.IsNullOrWhiteSpace(notification.OwnerId)
            ? [notification.OwnerId.Trim()]
            : (await conn.QueryAsync<string>(new CommandDefinition("""
                select distinct staff_user_id from customer_owner where entity_type = 'lead' and entity_id = @LeadId order by 1 limit 10
                """, new { notification.LeadId }, cancellationToken: ct))).ToList();
        if (owners.Count == 0)
        {
            LogNoOwner(logger, notification.LeadId);
            return;
        }

        await using var tx = await conn.BeginTransactionAsync(ct);
        var toUser = string.Join('|', owners);
        var claimed = await conn.ExecuteAsync(new CommandDefinition("""
            insert into notification_sent (notification_key, recipients) values (@key, @toUser) on conflict do nothing
            """, new { key = $"{LeadConvertedNotification.Kind}:{notification.LeadId}", toUser }, tx, cancellationToken: ct));
        if (claimed == 0) return;   // sent by an earlier delivery

        var (title, description) = Card(notification);
        await wecom.SendTextCardAsync(agentId, toUser, title, description,
            $"{options.Value.ConsoleUrl.TrimEnd('/')}/leads/{notification.LeadId}", ct);
        await tx.CommitAsync(ct);
    }

    /// <summary>The card's title and description (WeCom textcard HTML subset); the lead's name masked for phones and emails.</summary>
    public static (string Title, string Description) Card(LeadConvertedNotification n)
    {
        var name = PiiMask.Text(string.IsNullOrWhiteSpace(n.LeadName) ? "(未命名)" : n.LeadName.Trim());
        var contact = n.ContactCreated ? "新建联系人" : "并入已有联系人";
        var account = n.AccountCreated ? "新建客户" : "已有客户";
        var opportunity = n.OpportunityId is null ? "" : "，并创建商机";
        var at = n.ConvertedAt.ToUniversalTime().ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
        return ("线索已转化",
            $"<div class=\"gray\">{at}</div><div class=\"normal\">线索「{System.Net.WebUtility.HtmlEncode(name)}」已转化：{contact}，{account}{opportunity}。</div>");
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Notification message {MessageId} of type {Type} is not one this consumer sends; dropped")]
    private static partial void LogUnknown(ILogger logger, long messageId, string? type);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Lead {LeadId} converted, but WeCom:AgentId is not set: no app message sent")]
    private static partial void LogNoAgent(ILogger logger, Guid leadId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Lead {LeadId} converted with no owner to notify")]
    private static partial void LogNoOwner(ILogger logger, Guid leadId);
}
