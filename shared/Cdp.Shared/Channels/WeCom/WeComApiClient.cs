using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cdp.Shared.Channels.WeCom;

/// <summary>
/// The WeCom server API calls the platform makes. Transport failures are retried by the resilience handler; WeCom
/// answers with HTTP 200 and an errcode, handled here: a stale token is refreshed once, anything else throws
/// <see cref="WeComApiException"/>. Neither the secret nor the access token is ever logged.
/// </summary>
public sealed partial class WeComApiClient(
    HttpClient http, WeComAccessTokenCache tokens, IOptions<WeComOptions> options, ILogger<WeComApiClient> logger)
{
    /// <summary>invalid access_token, invalid credential, access_token expired.</summary>
    private static readonly int[] StaleTokenCodes = [40014, 40001, 42001];

    private const int NotExternalContact = 84061;

    /// <summary>invalid code: unknown, used before, or older than its 5 minutes.</summary>
    private const int InvalidCode = 40029;

    private static readonly JsonSerializerOptions Json = new()
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private readonly WeComOptions _options = options.Value;

    public Task<string> GetAccessTokenAsync(CancellationToken cancellationToken) =>
        tokens.GetAsync(FetchTokenAsync, _options.TokenRefreshMargin, cancellationToken);

    /// <summary>The contact and its followers, or null when the id is not (or no longer) an external contact.</summary>
    public async Task<WeComExternalContact?> GetExternalContactAsync(string externalUserId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(externalUserId);
        var response = await CallAsync<ExternalContactResponse>(
            "externalcontact/get",
            token => new HttpRequestMessage(HttpMethod.Get,
                $"cgi-bin/externalcontact/get?access_token={Escape(token)}&external_userid={Escape(externalUserId)}"),
            tolerated: NotExternalContact,
            cancellationToken).ConfigureAwait(false);

        if (response.ErrCode == NotExternalContact || response.ExternalContact is null)
        {
            return null;
        }

        return response.ExternalContact with { FollowUsers = response.FollowUser ?? [] };
    }

    /// <summary>
    /// Exchanges a sign-in code (OAuth2 inside WeCom or the web-login QR) for the staff member's userid
    /// (<c>auth/getuserinfo</c>). Null when the code is invalid or used, or when it belongs to someone outside the company
    /// (WeCom then answers an openid instead of a userid).
    /// </summary>
    public async Task<string?> GetStaffUserIdAsync(string code, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(code);
        var response = await CallAsync<UserInfoResponse>(
            "auth/getuserinfo",
            token => new HttpRequestMessage(HttpMethod.Get, $"cgi-bin/auth/getuserinfo?access_token={Escape(token)}&code={Escape(code)}"),
            tolerated: InvalidCode,
            cancellationToken).ConfigureAwait(false);
        return response.ErrCode == 0 && !string.IsNullOrEmpty(response.UserId) ? response.UserId : null;
    }

    /// <summary>Adds and removes corp tags on the contact as seen by employee <paramref name="userId"/>.</summary>
    public async Task MarkTagAsync(
        string userId, string externalUserId, IReadOnlyList<string> addTagIds, IReadOnlyList<string> removeTagIds,
        CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(userId);
        ArgumentException.ThrowIfNullOrEmpty(externalUserId);
        ArgumentNullException.ThrowIfNull(addTagIds);
        ArgumentNullException.ThrowIfNull(removeTagIds);
        if (addTagIds.Count == 0 && removeTagIds.Count == 0)
        {
            return; // WeCom rejects a mark_tag with nothing to do.
        }

        var body = new MarkTagRequest(userId, externalUserId, addTagIds, removeTagIds);
        await CallAsync<WeComResponse>(
            "externalcontact/mark_tag",
            token => Post($"cgi-bin/externalcontact/mark_tag?access_token={Escape(token)}", body),
            tolerated: null,
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sets the employee's remark and description of the contact; null leaves a field unchanged.</summary>
    public async Task UpdateRemarkAsync(
        string userId, string externalUserId, string? remark, string? description, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(userId);
        ArgumentException.ThrowIfNullOrEmpty(externalUserId);
        var body = new RemarkRequest(userId, externalUserId, remark, description);
        await CallAsync<WeComResponse>(
            "externalcontact/remark",
            token => Post($"cgi-bin/externalcontact/remark?access_token={Escape(token)}", body),
            tolerated: null,
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Every corp tag group with its tags (<c>externalcontact/get_corp_tag_list</c> with no filter).</summary>
    public async Task<IReadOnlyList<WeComTagGroup>> GetCorpTagListAsync(CancellationToken cancellationToken)
    {
        var response = await CallAsync<CorpTagListResponse>(
            "externalcontact/get_corp_tag_list",
            token => Post($"cgi-bin/externalcontact/get_corp_tag_list?access_token={Escape(token)}", new { }),
            tolerated: null,
            cancellationToken).ConfigureAwait(false);
        return response.TagGroup ?? [];
    }

    /// <summary>
    /// Creates corp tags in the group named <paramref name="groupName"/> (WeCom adds them to an existing group of that
    /// name, or creates it) and returns the group as WeCom answers it, with the new tags' ids.
    /// </summary>
    public async Task<WeComTagGroup> AddCorpTagAsync(string groupName, IReadOnlyList<string> tagNames, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(groupName);
        ArgumentNullException.ThrowIfNull(tagNames);
        var body = new AddCorpTagRequest(groupName, [.. tagNames.Select(n => new AddCorpTagName(n))]);
        var response = await CallAsync<AddCorpTagResponse>(
            "externalcontact/add_corp_tag",
            token => Post($"cgi-bin/externalcontact/add_corp_tag?access_token={Escape(token)}", body),
            tolerated: null,
            cancellationToken).ConfigureAwait(false);
        return response.TagGroup ?? throw new HttpRequestException("WeCom add_corp_tag answered without tag_group.");
    }

    /// <summary>
    /// Fetches a JS-SDK ticket with its lifetime, uncached (<see cref="WeComJsSdk"/> caches them):
    /// <c>get_jsapi_ticket</c> for <c>wx.config</c>, <c>ticket/get?type=agent_config</c> for <c>wx.agentConfig</c>.
    /// </summary>
    public async Task<(string Ticket, TimeSpan ExpiresIn)> FetchJsSdkTicketAsync(WeComTicketKind kind, CancellationToken cancellationToken)
    {
        var (api, path) = kind == WeComTicketKind.AgentConfig
            ? ("ticket/get", "cgi-bin/ticket/get?type=agent_config&access_token=")
            : ("get_jsapi_ticket", "cgi-bin/get_jsapi_ticket?access_token=");
        var response = await CallAsync<TicketResponse>(
            api, token => new HttpRequestMessage(HttpMethod.Get, path + Escape(token)), tolerated: null, cancellationToken).ConfigureAwait(false);
        if (string.IsNullOrEmpty(response.Ticket))
        {
            throw new HttpRequestException($"WeCom {api} answered without a ticket.");
        }

        return (response.Ticket, TimeSpan.FromSeconds(response.ExpiresIn > 0 ? response.ExpiresIn : 7200));
    }

    /// <summary>
    /// Sends an app message (<c>message/send</c>, msgtype textcard) from app <paramref name="agentId"/> to the staff
    /// members in <paramref name="toUser"/> ('|'-separated userids).
    /// </summary>
    public async Task SendTextCardAsync(
        string agentId, string toUser, string title, string description, string url, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(agentId);
        ArgumentException.ThrowIfNullOrEmpty(toUser);
        var body = new TextCardMessage(toUser, "textcard", int.TryParse(agentId, out var id) ? id : 0,
            new TextCard(title, description, url, "详情"));
        await CallAsync<WeComResponse>(
            "message/send",
            token => Post($"cgi-bin/message/send?access_token={Escape(token)}", body),
            tolerated: null,
            cancellationToken).ConfigureAwait(false);
    }

    private async Task<(string Token, TimeSpan ExpiresIn)> FetchTokenAsync(CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get,
            $"cgi-bin/gettoken?corpid={Escape(_options.CorpId)}&corpsecret={Escape(_options.Secret)}");
        var response = await SendAsync<TokenResponse>("gettoken", request, cancellationToken).ConfigureAwait(false);
        if (response.ErrCode != 0 || string.IsNullOrEmpty(response.AccessToken))
        {
            LogFailed(logger, "gettoken", response.ErrCode, response.ErrMsg);
            CountError("gettoken", response.ErrCode);
            throw new WeComApiException("gettoken", response.ErrCode, response.ErrMsg);
        }

        return (response.AccessToken, TimeSpan.FromSeconds(response.ExpiresIn > 0 ? response.ExpiresIn : 7200));
    }

    private async Task<T> CallAsync<T>(
        string api, Func<string, HttpRequestMessage> build, int? tolerated, CancellationToken cancellationToken)
        where T : WeComResponse
    {
        for (var attempt = 1; ; attempt++)
        {
            var token = await GetAccessTokenAsync(cancellationToken).ConfigureAwait(false);
            using var request = build(token);
            var response = await SendAsync<T>(api, request, cancellationToken).ConfigureAwait(false);
            if (response.ErrCode == 0 || response.ErrCode == tolerated)
            {
                return response;
            }

            if (attempt == 1 && StaleTokenCodes.Contains(response.ErrCode))
            {
                LogStaleToken(logger, api, response.ErrCode);
                tokens.Invalidate(token);
                continue;
            }

            LogFailed(logger, api, response.ErrCode, response.ErrMsg);
            CountError(api, response.ErrCode);
            throw new WeComApiException(api, response.ErrCode, response.ErrMsg);
        }
    }

    private static void CountError(string api, int errCode) =>
        Cdp.Shared.Telemetry.CdpTelemetry.WeComErrors.Add(1, new KeyValuePair<string, object?>("api", api),
            new KeyValuePair<string, object?>("errcode", errCode.ToString(System.Globalization.CultureInfo.InvariantCulture)));

    private async Task<T> SendAsync<T>(string api, HttpRequestMessage request, CancellationToken cancellationToken)
        where T : WeComResponse
    {
        using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        try
        {
            return await response.Content.ReadFromJsonAsync<T>(Json, cancellationToken).ConfigureAwait(false)
                ?? throw new HttpRequestException($"WeCom {api} answered with an empty body.");
        }
        catch (JsonException ex)
        {
            throw new HttpRequestException($"WeCom {api} answered with a body that is not JSON.", ex);
        }
    }

    private static HttpRequestMessage Post<TBody>(string uri, TBody body) =>
        new(HttpMethod.Post, uri) { Content = JsonContent.Create(body, options: Json) };

    private static string Escape(string value) => Uri.EscapeDataString(value);

    [LoggerMessage(Level = LogLevel.Warning, Message = "WeCom {Api} failed with errcode {ErrCode}: {ErrMsg}")]
    private static partial void LogFailed(ILogger logger, string api, int errCode, string? errMsg);

    [LoggerMessage(Level = LogLevel.Information, Message = "WeCom {Api} rejected the access token (errcode {ErrCode}); refreshing it")]
    private static partial void LogStaleToken(ILogger logger, string api, int errCode);

    private class WeComResponse
    {
        [JsonPropertyName("errcode")] public int ErrCode { get; init; }
        [JsonPropertyName("errmsg")] public string? ErrMsg { get; init; }
    }

    private sealed class TokenResponse : WeComResponse
    {
        [JsonPropertyName("access_token")] public string? AccessToken { get; init; }
        [JsonPropertyName("expires_in")] public int ExpiresIn { get; init; }
    }

    private sealed class TicketResponse : WeComResponse
    {
        [JsonPropertyName("ticket")] public string? Ticket { get; init; }
        [JsonPropertyName("expires_in")] public int ExpiresIn { get; init; }
    }

    private sealed class ExternalContactResponse : WeComResponse
    {
        [JsonPropertyName("external_contact")] public WeComExternalContact? ExternalContact { get; init; }
        [JsonPropertyName("follow_user")] public IReadOnlyList<WeComFollowUser>? FollowUser { get; init; }
    }

    private sealed class UserInfoResponse : WeComResponse
    {
        [JsonPropertyName("userid")] public string? UserId { get; init; }
    }

    private sealed class CorpTagListResponse : WeComResponse
    {
        [JsonPropertyName("tag_group")] public IReadOnlyList<WeComTagGroup>? TagGroup { get; init; }
    }

    private sealed class AddCorpTagResponse : WeComResponse
    {
        [JsonPropertyName("tag_group")] public WeComTagGroup? TagGroup { get; init; }
    }

    private sealed record AddCorpTagRequest(
        [property: JsonPropertyName("group_name")] string GroupName,
        [property: JsonPropertyName("tag")] IReadOnlyList<AddCorpTagName> Tag);

    private sealed record AddCorpTagName([property: JsonPropertyName("name")] string Name);

    private sealed record TextCardMessage(
        [property: JsonPropertyName("touser")] string ToUser,
        [property: JsonPropertyName("msgtype")] string MsgType,
        [property: JsonPropertyName("agentid")] int AgentId,
        [property: JsonPropertyName("textcard")] TextCard TextCard);

    private sealed record TextCard(
        [property: JsonPropertyName("title")] string Title,
        [property: JsonPropertyName("description")] string Description,
        [property: JsonPropertyName("url")] string Url,
        [property: JsonPropertyName("btntxt")] string BtnTxt);

    private sealed record MarkTagRequest(
        [property: JsonPropertyName("userid")] string UserId,
        [property: JsonPropertyName("external_userid")] string ExternalUserId,
        [property: JsonPropertyName("add_tag")] IReadOnlyList<string> AddTag,
        [property: JsonPropertyName("remove_tag")] IReadOnlyList<string> RemoveTag);

    private sealed record RemarkRequest(
        [property: JsonPropertyName("userid")] string UserId,
        [property: JsonPropertyName("external_userid")] string ExternalUserId,
        [property: JsonPropertyName("remark")] string? Remark,
        [property: JsonPropertyName("description")] string? Description);
}
