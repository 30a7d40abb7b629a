using System.Net;
using System.Text.Json;
using Cdp.Shared.Api;
using Cdp.Tests.Support;

namespace Cdp.Tests.Web;

/// <summary>The local host with the built pages (web/dist).</summary>
public sealed class WebPagesApp : CdpApp
{
    public override async Task InitializeAsync()
    {
        await WebBuild.EnsureAsync();
        await base.InitializeAsync();
    }

    protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings =>
        [new("Web:Root", Path.Combine(WebHost.WebDir, "dist"))];
}

/// <summary>
/// The local host serves web/'s console and sidebar as static pages beside the API, which answers as before (a page path
/// takes GET only: another method is 405).
/// </summary>
public sealed class WebPagesTests(WebPagesApp app) : IClassFixture<WebPagesApp>
{
    [Theory]
    [InlineData("/", "CDP 运营控制台")]
    [InlineData("/reviews", "CDP 运营控制台")]
    [InlineData("/accounts/0195f3a0-1111-7000-8000-000000000001", "CDP 运营控制台")]
    [InlineData("/sidebar/", "客户画像")]
    [InlineData("/sidebar/?contactId=x", "客户画像")]
    public async Task Pages_and_their_client_side_paths_answer_the_page_with_its_policy(string path, string title)
    {
        using var response = await app.Anonymous.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains($"<title>{title}</title>", await response.Content.ReadAsStringAsync());
        Assert.Equal(SecurityHeaders.PagePolicy, response.Headers.GetValues("Content-Security-Policy").Single());
        Assert.Equal("no-cache", response.Headers.CacheControl?.ToString());
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
    }

    [Fact]
    public async Task Hashed_assets_are_cached_for_a_year_and_a_missing_asset_is_404()
    {
        var html = await app.Anonymous.GetStringAsync("/sidebar/");
        var script = System.Text.RegularExpressions.Regex.Match(html, "src=\"(/assets/[^\"]+\\.js)\"").Groups[1].Value;

        using var asset = await app.Anonymous.GetAsync(script);
        using var missing = await app.Anonymous.GetAsync("/assets/nothing-here.js");

        Assert.Equal(HttpStatusCode.OK, asset.StatusCode);
        Assert.Equal("public, max-age=31536000, immutable", asset.Headers.CacheControl?.ToString());
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Theory]
    [InlineData("GET", "/api/no-such-route", HttpStatusCode.NotFound)]
    [InlineData("GET", "/api/auth/me", HttpStatusCode.Unauthorized)]
    [InlineData("POST", "/reviews", HttpStatusCode.MethodNotAllowed)]
    public async Task The_API_answers_as_before_beside_the_pages(string method, string path, HttpStatusCode expected)
    {
        using var response = await app.Anonymous.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));

        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotContain(SecurityHeaders.PagePolicy, response.Headers.TryGetValues("Content-Security-Policy", out var csp) ? csp : []);
    }

    /// <summary>On Azure the Static Web App serves the pages: its config must carry the same policy.</summary>
    [Fact]
    public void The_Static_Web_App_config_sends_the_same_page_policy()
    {
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(WebHost.WebDir, "public", "staticwebapp.config.json")));
        Assert.Equal(SecurityHeaders.PagePolicy, config.RootElement.GetProperty("globalHeaders").GetProperty("Content-Security-Policy").GetString());
    }
}
