using Cdp.Shared.Access;
using Cdp.Shared.Api;
using Microsoft.Extensions.Options;

namespace Cdp.Shared.Channels.WeCom;

/// <summary>What the WeCom sidebar page needs from the server to use the JS-SDK.</summary>
public static class WeComRoutes
{
    public const string JsSdkConfigPath = "wecom/jssdk-config";
    public const string CorpTagsPath = "wecom/corp-tags";

    /// <summary>Longer than any page of ours; a browser's location.href is far shorter.</summary>
    public const int MaxUrlLength = 2048;

    /// <summary>
    /// GET /api/wecom/jssdk-config?url= -> the signatures for wx.config and wx.agentConfig of the page at
    /// <c>url</c> (location.href cut before '#'). The page must be ours: its host is the host this request came to (the
    /// page and the API share an origin) or an origin of Auth:AllowedOrigins; anything else is 422.
    /// </summary>
    public static readonly ApiRoute GetJsSdkConfig = ApiRoute.Get(nameof(GetJsSdkConfig), JsSdkConfigPath, Permissions.CustomersRead, async call =>
    {
        var url = CheckPageUrl(call.Query("url"), [call.Request.Host.Value, call.Header("X-Forwarded-Host")],
            call.Service<IOptions<AccessOptions>>().Value.AllowedOrigins);
        if (call.Service<IOptions<WeComOptions>>().Value.AgentId is not { Length: > 0 })
            throw new ApiProblemException(ApiProblem.Unavailable("WeCom:AgentId is not set: the sidebar needs the app's agent id."));
        try
        {
            return ApiResults.Json(await call.Service<WeComJsSdk>().ConfigAsync(url, call.Service<WeComApiClient>(), call.Aborted));
        }
        catch (Exception e) when (e is WeComApiException or HttpRequestException)
        {
            throw new ApiProblemException(ApiProblem.Unavailable("WeCom did not hand out a JS-SDK ticket; retry shortly."));
        }
    });

    /// <summary>
    /// GET /api/wecom/corp-tags -> the company's live corp tag groups, for the sidebar's tag picker:
    /// <c>[{"groupId","groupName","tags":[{"id","name"}]}]</c>. Tags a salesperson saves go to the CDP's own group
    /// (Sync:TagGroupName), which WeCom lets the app edit.
    /// </summary>
    public static readonly ApiRoute ListCorpTags = ApiRoute.Get(nameof(ListCorpTags), CorpTagsPath, Permissions.CustomersRead, async call =>
    {
        IReadOnlyList<WeComTagGroup> groups;
        try
        {
            groups = await call.Service<CorpTagCatalog>().GetAsync(call.Service<WeComApiClient>(), call.Aborted);
        }
        catch (Exception e) when (e is WeComApiException or HttpRequestException)
        {
            throw new ApiProblemException(ApiProblem.Unavailable("WeCom did not list the corp tags; retry shortly."));
        }
        return ApiResults.Json(groups.Where(g => !g.Deleted).Select(g => new CorpTagGroup(g.GroupId ?? "", g.GroupName ?? "",
            [.. g.Tags.Where(t => !t.Deleted).Select(t => new CorpTag(t.Id, t.Name))])).ToList());
    });

    public static IEnumerable<ApiRoute> All => [GetJsSdkConfig, ListCorpTags];

    public sealed record CorpTagGroup(string GroupId, string GroupName, IReadOnlyList<CorpTag> Tags);
    public sealed record CorpTag(string Id, string Name);

    /// <summary>
    /// The page URL exactly as given (the signature covers its bytes), or 422: required, at most
    /// <see cref="MaxUrlLength"/> printable ASCII characters (as location.href gives it), absolute http(s) without
    /// user info or fragment, on one of <paramref name="hosts"/> (host[:port]) or <paramref name="origins"/>.
    /// </summary>
    public static string CheckPageUrl(string? url, IEnumerable<string?> hosts, IEnumerable<string> origins)
    {
        ArgumentNullException.ThrowIfNull(hosts);
        ArgumentNullException.ThrowIfNull(origins);
        if (string.IsNullOrEmpty(url)) throw Invalid("Required: the page's URL (location.href without the part from '#').");
        if (url.Length > MaxUrlLength) throw Invalid($"At most {MaxUrlLength} characters.");
        if (url.Any(c => c <= ' ' || c >= '\u007f')) throw Invalid("Send the URL as location.href gives it: printable ASCII, percent-encoded.");
        if (url.Contains('#', StringComparison.Ordinal)) throw Invalid("Cut the URL before '#': WeCom signs it without the fragment.");
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0)
            throw Invalid("Must be an absolute http or https URL.");
        if (uri.UserInfo.Length > 0) throw Invalid("Must not carry user info.");
        var ours = hosts.Any(h => !string.IsNullOrEmpty(h) && string.Equals(h, uri.Authority, StringComparison.OrdinalIgnoreCase))
            || origins.Any(o => string.Equals(o.TrimEnd('/'), uri.GetLeftPart(UriPartial.Authority), StringComparison.OrdinalIgnoreCase));
        if (!ours) throw Invalid($"'{uri.GetLeftPart(UriPartial.Authority)}' is not this site: sign pages served here or from Auth:AllowedOrigins.");
        return url;
    }

    static ApiProblemException Invalid(string message) => ApiProblemException.Invalid("url", message);
}
