using System.Net.Http.Json;
using System.Text.Json.Serialization;

namespace Cdp.Shared.Operations;

/// <summary>
/// Posts to a WeCom group robot (WeCom:AlertWebhookUrl, the full URL with its key): the one way ops are told
/// something — sync failures, alert rules, virtual-number give-ups. Its resilience is <c>Sync:AlertHttp</c>.
/// </summary>
public sealed class AlertRobot(HttpClient http)
{
    public Task PostTextAsync(string webhookUrl, string content, CancellationToken ct) =>
        PostAsync(webhookUrl, new RobotMessage("text", new RobotText(content)), ct);

    /// <summary>A markdown message (the ops alerts: level, rule, value, threshold, since).</summary>
    public Task PostMarkdownAsync(string webhookUrl, string content, CancellationToken ct) =>
        PostAsync(webhookUrl, new RobotMessage("markdown", Markdown: new RobotText(content)), ct);

    async Task PostAsync(string webhookUrl, RobotMessage message, CancellationToken ct)
    {
        using var response = await http.PostAsJsonAsync(webhookUrl, message, RobotJson, ct);
        response.EnsureSuccessStatusCode();
        var answer = await response.Content.ReadFromJsonAsync<RobotAnswer>(ct);
        if (answer is { ErrCode: not 0 })
            throw new HttpRequestException($"The alert robot refused the message: errcode {answer.ErrCode}, {answer.ErrMsg}");
    }

    static readonly System.Text.Json.JsonSerializerOptions RobotJson = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    sealed record RobotMessage(
        [property: JsonPropertyName("msgtype")] string MsgType,
        [property: JsonPropertyName("text")] RobotText? Text = null,
        [property: JsonPropertyName("markdown")] RobotText? Markdown = null);

    sealed record RobotText([property: JsonPropertyName("content")] string Content);

    sealed record RobotAnswer([property: JsonPropertyName("errcode")] int ErrCode, [property: JsonPropertyName("errmsg")] string? ErrMsg);
}
