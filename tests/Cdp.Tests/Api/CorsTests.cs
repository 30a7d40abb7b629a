using Cdp.Shared.Api;

namespace Cdp.Tests.Api;

/// <summary>Which origin gets which CORS grant, decided without a host.</summary>
public sealed class CorsTests
{
    static readonly string[] Console = ["https://console.example.com"];
    static readonly HashSet<string> Sites = new(["https://www.example.com"], StringComparer.OrdinalIgnoreCase);

    [Fact]
    public void A_configured_origin_may_call_every_path_with_the_session_cookie()
    {
        Assert.Equal(new CorsGrant("https://console.example.com", Cors.ConsoleMethods, Credentials: true),
            Cors.Decide("https://console.example.com", "/api/accounts/1", Console, Sites));
        Assert.Equal(new CorsGrant("https://CONSOLE.example.com", Cors.ConsoleMethods, Credentials: true),
            Cors.Decide("https://CONSOLE.example.com", "/api/events", Console, Sites));
    }

    [Fact]
    public void A_publishable_keys_origin_may_only_post_events_and_without_credentials()
    {
        Assert.Equal(new CorsGrant("https://www.example.com", "POST", Credentials: false), Cors.Decide("https://www.example.com", "/api/events", Console, Sites));
        Assert.Null(Cors.Decide("https://www.example.com", "/api/accounts/1", Console, Sites));
        Assert.Null(Cors.Decide("https://www.example.com", "/api/events/more", Console, Sites));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("null")]
    [InlineData("https://evil.example.net")]
    [InlineData("http://www.example.com")]
    [InlineData("https://www.example.com:8443")]
    public void Any_other_origin_gets_nothing(string? origin) => Assert.Null(Cors.Decide(origin, "/api/events", Console, Sites));

    [Theory]
    [InlineData("https://www.example.com", true)]
    [InlineData("http://localhost:5173", true)]
    [InlineData("https://www.example.com/", false)]
    [InlineData("https://www.example.com/app", false)]
    [InlineData("*", false)]
    [InlineData("ftp://www.example.com", false)]
    [InlineData("www.example.com", false)]
    public void Only_scheme_host_and_port_make_an_origin(string text, bool isOrigin) =>
        Assert.Equal(isOrigin, Cdp.Shared.Access.BrowserOrigins.IsOrigin(text));
}
