using Cdp.Shared.Api;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.FileProviders;

namespace Cdp.Functions.Local;

/// <summary>
/// The pages built from web/ (npm run build -> web/dist): the console at / and the WeCom sidebar at /sidebar/, as
/// static files with a single-page-app fallback (any other path that is not the API's answers the page's index.html).
/// Hashed assets are cached for a year, the HTML never without revalidation. <c>Web:Root</c> names the folder
/// (default: web/dist under the content root); without it the host serves the API alone.
/// </summary>
public static class WebPages
{
    public const string RootSetting = "Web:Root";
    const string Immutable = "public, max-age=31536000, immutable";
    const string Revalidate = "no-cache";

    public static string? Root(WebApplication app)
    {
        var root = app.Configuration[RootSetting] is { Length: > 0 } configured
            ? Path.GetFullPath(configured, app.Environment.ContentRootPath)
            : Path.Combine(app.Environment.ContentRootPath, "web", "dist");
        return File.Exists(Path.Combine(root, "index.html")) ? root : null;
    }

    public static IServiceCollection AddWebPages(this IServiceCollection services) =>
        services.Configure<RouteOptions>(o => o.SetParameterPolicy<PagePathConstraint>(PagePathConstraint.Name));

    public static void MapWebPages(this WebApplication app)
    {
        if (Root(app) is not { } root)
        {
            app.Logger.LogInformation("No built web pages (run npm run build in web/, or set {Setting}); serving the API only.", RootSetting);
            return;
        }
        var files = new PhysicalFileProvider(root);
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = files,
            OnPrepareResponse = context => SecurityHeaders.ApplyPage(context.Context.Response,
                context.Context.Request.Path.StartsWithSegments("/assets") ? Immutable : Revalidate),
        });
        // GET/HEAD only and never under /api, /runtime or /assets: the API's answers (404 and 405 problems) stay as they were.
        app.MapFallback($"{{*path:{PagePathConstraint.Name}}}", async http =>
        {
            var page = http.Request.Path.StartsWithSegments("/sidebar") ? "sidebar/index.html" : "index.html";
            SecurityHeaders.ApplyPage(http.Response, Revalidate);
            http.Response.ContentType = "text/html; charset=utf-8";
            await http.Response.SendFileAsync(files.GetFileInfo(page), http.RequestAborted);
        }).WithMetadata(new HttpMethodMetadata([HttpMethods.Get, HttpMethods.Head])).ExcludeFromDescription();
    }
}

/// <summary>A page path: not the API's (api/, runtime/), not an asset, not a file name (those 404 when missing).</summary>
public sealed class PagePathConstraint : IRouteConstraint
{
    public const string Name = "cdppage";

    public bool Match(HttpContext? httpContext, IRouter? route, string routeKey, RouteValueDictionary values, RouteDirection routeDirection)
    {
        var path = values.TryGetValue(routeKey, out var v) ? v?.ToString() ?? "" : "";
        return !(path.StartsWith("api/", StringComparison.OrdinalIgnoreCase) || path.Equals("api", StringComparison.OrdinalIgnoreCase)
            || path.StartsWith("runtime/", StringComparison.OrdinalIgnoreCase) || path.StartsWith("assets/", StringComparison.OrdinalIgnoreCase)
            || path.Equals("metrics", StringComparison.OrdinalIgnoreCase) || Path.HasExtension(path));
    }
}
