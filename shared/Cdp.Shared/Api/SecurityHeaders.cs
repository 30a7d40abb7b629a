using Microsoft.AspNetCore.Http;

namespace Cdp.Shared.Api;

/// <summary>Headers every API answer carries on both hosts: nothing cached, sniffed, framed or leaked through a referrer.</summary>
public static class SecurityHeaders
{
    public static void Apply(HttpResponse response)
    {
        var headers = response.Headers;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers.ContentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'";
        headers["Referrer-Policy"] = "no-referrer";
        headers.CacheControl = "no-store";
    }

    /// <summary>
    /// The policy of the web pages (console and sidebar, built from web/): their own scripts and styles only, plus
    /// WeCom's JS-SDK scripts, which the sidebar loads inside WeCom; the API on the same origin; never framed.
    /// </summary>
    public const string PagePolicy =
        "default-src 'self'; script-src 'self' https://res.wx.qq.com https://open.work.weixin.qq.com https://wwcdn.weixin.qq.com; " +
        "style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

    /// <summary>Headers of a static page or asset: as <see cref="Apply"/> but with <see cref="PagePolicy"/> and the given caching.</summary>
    public static void ApplyPage(HttpResponse response, string cacheControl)
    {
        Apply(response);
        response.Headers.ContentSecurityPolicy = PagePolicy;
        response.Headers.CacheControl = cacheControl;
    }
}
