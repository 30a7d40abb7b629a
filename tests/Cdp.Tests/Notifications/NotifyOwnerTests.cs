using System.Net;
using System.Net.Http.Json;
using Cdp.Shared.Conversion;
using Cdp.Shared.Messaging;
using Cdp.Tests.Conversion;
using Cdp.Tests.Support;
using Dapper;

namespace Cdp.Tests.Notifications;

/// <summary>The local host with the WeCom app's AgentId set, so conversions are announced to their owners.</summary>
public sealed class NotifyApp : CdpApp
{
    public const string AgentId = "1000002";

    protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings => [new("WeCom:AgentId", AgentId)];
}

public sealed class NotifyOwnerTests(NotifyApp app) : IClassFixture<NotifyApp>
{
    [Fact]
    public async Task A_conversion_reaches_the_owner_once_as_a_textcard_without_a_full_phone_number()
    {
        var mobile = TestData.Mobile();
        var leadId = await ConversionData.InsertLeadAsync(app.Database.DataSource, mobile, TestData.Email(), ConversionData.Company());
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        // A name that is really a phone number must not reach WeCom in full.
        await conn.ExecuteAsync("update lead set lead_name = @name where lead_id = @leadId", new { name = "王小明" + mobile, leadId });
        var before = app.WeCom.AppMessages.Count;

        using (var response = await app.Client.PostAsJsonAsync($"/api/leads/{leadId}/convert", new { ownerId = "sales07" }))
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        await Eventually.Until(() => app.WeCom.AppMessages.Skip(before).Any(m => m["msgtype"]?.GetValue<string>() == "textcard"),
            TimeSpan.FromSeconds(60), "the app message");
        // The notification message is gone from the topic (handled), and nothing more is sent.
        await Eventually.Until(async () => await conn.QuerySingleAsync<long>(
            "select count(*) from topic_message where topic = @Notification", new { Topics.Notification }) == 0, TimeSpan.FromSeconds(30));
        var message = Assert.Single(app.WeCom.AppMessages.Skip(before), m => m["msgtype"]?.GetValue<string>() == "textcard");
        Assert.Equal(("sales07", NotifyApp.AgentId), (message["touser"]!.GetValue<string>(), message["agentid"]!.GetValue<int>().ToString(System.Globalization.CultureInfo.InvariantCulture)));
        var text = message.ToJsonString(new System.Text.Json.JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        Assert.DoesNotContain(mobile, text);
        Assert.Contains(mobile[..3], message["textcard"]!["description"]!.GetValue<string>());
        Assert.Contains($"/leads/{leadId}", message["textcard"]!["url"]!.GetValue<string>());

        // A redelivery of the same notification is not sent twice.
        var again = System.Text.Json.JsonSerializer.Serialize(new LeadConvertedNotification(leadId, "王小明", Guid.NewGuid(), true, Guid.NewGuid(), true, null, "sales07",
            DateTimeOffset.UtcNow), Cdp.Shared.CdpJson.Options);
        await conn.ExecuteAsync("insert into topic_message (topic, message_key, payload) values (@Notification, @key, @again::jsonb)",
            new { Topics.Notification, key = $"lead:{leadId}", again });
        await Eventually.Until(async () => await conn.QuerySingleAsync<long>(
            "select count(*) from topic_message where topic = @Notification", new { Topics.Notification }) == 0, TimeSpan.FromSeconds(30));
        Assert.Single(app.WeCom.AppMessages.Skip(before), m => m["msgtype"]?.GetValue<string>() == "textcard");
    }

    [Fact]
    public void The_card_masks_phone_numbers_and_emails_in_the_lead_name()
    {
        var (title, description) = Cdp.Shared.Notifications.NotifyOwner.Card(new LeadConvertedNotification(
            Guid.NewGuid(), "13912345678 a@b.com", Guid.NewGuid(), true, Guid.NewGuid(), false, Guid.NewGuid(), "sales01", DateTimeOffset.UtcNow));
        Assert.Equal("线索已转化", title);
        Assert.DoesNotContain("13912345678", description);
        Assert.DoesNotContain("a@b.com", description);
        Assert.Contains("商机", description);
    }
}
