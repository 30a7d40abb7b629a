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
}
