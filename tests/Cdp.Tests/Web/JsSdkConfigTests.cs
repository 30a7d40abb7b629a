using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Cdp.Shared.Access;
using Cdp.Shared.Channels.WeCom;
using Cdp.Tests.Support;

namespace Cdp.Tests.Web;

/// <summary>A host with the WeCom app's agent id and a console origin of its own.</summary>
public sealed class JsSdkApp : CdpApp
{
    public const string AgentId = "1000002";
    public const string ConsoleOrigin = "https://console.cdp-test.example";

    protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings =>
        [new("WeCom:AgentId", AgentId), new("Auth:AllowedOrigins", ConsoleOrigin)];
}

/// <summary>GET /api/wecom/jssdk-config: FACTS.md's signature, both tickets fetched once and cached, the page URL checked.</summary>
public sealed class JsSdkConfigTests(JsSdkApp app) : IClassFixture<JsSdkApp>
{
    const string Path = "/api/wecom/jssdk-config?url=";

    /// <summary>The WeCom documentation's own example (FACTS.md).</summary>
    [Fact]
    public void The_official_test_vector_signs_to_the_documented_signature() =>
        Assert.Equal("0f9de62fce790f9a083d5c99e95740ceb90c27ed", WeComJsSdk.Sign(
            "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg",
            "Wm3WZYTPz0wzccnW", 1414587457, "http://mp.weixin.qq.com?params=value"));

    [Fact]
    public async Task A_salesperson_gets_wx_config_and_wx_agentConfig_signatures_each_with_its_own_ticket()
    {
        using var sales = await StaffSession.SignInAsync(app, TestData.Id("sales"), [Roles.Sales]);
        const string page = "http://localhost/sidebar/?contact=wm-1&x=%E4%B8%AD";

        var config = await sales.GetFromJsonAsync<JsonElement>(Path + Uri.EscapeDataString(page));

        Assert.Equal(WeComStandIn.DefaultCorpId, config.GetProperty("corpId").GetString());
        Assert.Equal(JsSdkApp.AgentId, config.GetProperty("agentId").GetString());
        var (timestamp, nonce) = (config.GetProperty("timestamp").GetInt64(), config.GetProperty("nonceStr").GetString()!);
        Assert.InRange(timestamp, DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeSeconds(), DateTimeOffset.UtcNow.AddMinutes(1).ToUnixTimeSeconds());
        Assert.Matches("^[A-Za-z0-9]{16}$", nonce);
        Assert.Equal(WeComJsSdk.Sign(app.WeCom.JsApiTicket!, nonce, timestamp, page), config.GetProperty("signature").GetString());
        Assert.Equal(WeComJsSdk.Sign(app.WeCom.AgentConfigTicket!, nonce, timestamp, page), config.GetProperty("agentSignature").GetString());
        Assert.NotEqual(config.GetProperty("signature").GetString(), config.GetProperty("agentSignature").GetString());
    }

    [Fact]
    public async Task Concurrent_pages_share_one_fetch_of_each_ticket_and_later_pages_reuse_it()
    {
        var pages = Enumerable.Range(0, 12).Select(i => app.Client.GetAsync(Path + Uri.EscapeDataString($"http://localhost/sidebar/?n={i}")));
        foreach (var response in await Task.WhenAll(pages))
        {
            using (response) Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        using (var again = await app.Client.GetAsync(Path + Uri.EscapeDataString("http://localhost/")))
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);

        // The stand-in hands out a new ticket per fetch and the fixture's other tests share this cache: one fetch each, ever.
        Assert.Equal((1, 1), (app.WeCom.Calls(WeComStandIn.JsApiTicketPath), app.WeCom.Calls(WeComStandIn.AgentTicketPath)));
    }

    [Fact]
    public async Task A_page_of_an_allowed_console_origin_is_signed()
    {
        using var response = await app.Client.GetAsync(Path + Uri.EscapeDataString(JsSdkApp.ConsoleOrigin + "/sidebar/index.html?a=1"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("")]
    [InlineData("/sidebar/")]
    [InlineData("localhost/sidebar/")]
    [InlineData("ftp://localhost/sidebar/")]
    [InlineData("http://localhost/sidebar/#/contact/1")]
    [InlineData("http://localhost/sidebar/#")]
    [InlineData("https://evil.example/sidebar/")]
    [InlineData("http://localhost.evil.example/")]
    [InlineData("http://user:pw@localhost/")]
    [InlineData("http://localhost/页面")]
    [InlineData("http://localhost/a b")]
    [InlineData("javascript:alert(1)")]
    public async Task A_url_that_is_not_one_of_our_pages_without_its_fragment_is_422(string url)
    {
        using var response = await app.Client.GetAsync(url.Length == 0 ? "/api/wecom/jssdk-config" : Path + Uri.EscapeDataString(url));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty("url", out _));
    }

    [Fact]
    public async Task A_caller_without_customers_read_is_refused()
    {
        using var anonymous = await app.Anonymous.GetAsync(Path + Uri.EscapeDataString("http://localhost/"));
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);

        using var auditor = await ApiKeyCaller.CreateAsync(app, Permissions.AuditRead);
        using var refused = await auditor.Client.GetAsync(Path + Uri.EscapeDataString("http://localhost/"));
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
    }
}
