using System.Net;
using Cdp.Tests.Support;

namespace Cdp.Tests.Access;

/// <summary>Every answer carries the security headers; a Host the install does not serve is refused before any route.</summary>
public sealed class HostingGuardTests(HostingGuardTests.App app) : IClassFixture<HostingGuardTests.App>
{
    public sealed class App : CdpApp
    {
        protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings => [new("AllowedHosts", "localhost;cdp.example.com")];
    }

    [Theory]
    [InlineData("/api/health")]
    [InlineData("/api/accounts/00000000-0000-0000-0000-000000000001")]
    [InlineData("/api/sync-tasks?limit=abc")]
    public async Task Every_API_answer_carries_the_security_headers(string path)
    {
        using var response = await app.Client.GetAsync(path);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
        Assert.Equal("no-referrer", response.Headers.GetValues("Referrer-Policy").Single());
        Assert.Contains("frame-ancestors 'none'", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        Assert.True(response.Headers.CacheControl?.NoStore);
    }

    [Fact]
    public async Task A_host_header_the_install_does_not_serve_is_refused()
    {
        using var foreign = new HttpRequestMessage(HttpMethod.Get, "/api/health");
        foreign.Headers.Host = "attacker.example.net";
        using var refused = await app.Client.SendAsync(foreign);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);

        using var ours = new HttpRequestMessage(HttpMethod.Get, "/api/health");
        ours.Headers.Host = "cdp.example.com";
        using var served = await app.Client.SendAsync(ours);
        Assert.NotEqual(HttpStatusCode.BadRequest, served.StatusCode);
    }

    [Fact]
    public async Task Health_tells_anyone_whether_the_platform_is_up_and_only_operations_which_part_is_down()
    {
        // 200 or 503 alike: what matters is what the answer tells whom.
        using var anonymousAnswer = await app.Anonymous.GetAsync("/api/health");
        var anonymous = await anonymousAnswer.Content.ReadAsStringAsync();
        Assert.DoesNotContain("dependencies", anonymous, StringComparison.Ordinal);
        Assert.Contains("healthy", anonymous, StringComparison.Ordinal);
        using var opsAnswer = await app.Client.GetAsync("/api/health");
        var ops = await opsAnswer.Content.ReadAsStringAsync();
        Assert.Contains("dependencies", ops, StringComparison.Ordinal);
    }
}
