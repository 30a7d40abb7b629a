using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Cdp.Shared.Channels.WeCom;
using Cdp.Shared.Http;
using Cdp.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Polly.CircuitBreaker;

namespace Cdp.Tests.Channels.WeCom;

public sealed class WeComApiClientTests : IAsyncLifetime
{
    private WeComStandIn _wecom = null!;
    private IHost _host = null!;

    public async Task InitializeAsync()
    {
        _wecom = await WeComStandIn.StartAsync();
        _host = _wecom.BuildHost();
    }

    public async Task DisposeAsync()
    {
        _host.Dispose();
        await _wecom.DisposeAsync();
    }

    private WeComApiClient Client(IHost? host = null) => (host ?? _host).Services.GetRequiredService<WeComApiClient>();

    [Fact]
    public async Task Maps_the_contact_and_its_followers()
    {
        _wecom.AddContact("wmEXT001", "张三", "华东精密", "zhangsan", "lisi");

        var contact = await Client().GetExternalContactAsync("wmEXT001", default);

        Assert.NotNull(contact);
        Assert.Equal(("wmEXT001", "张三", "华东精密", "华东精密有限公司", 2, 1, "union-wmEXT001"),
            (contact.ExternalUserId, contact.Name, contact.CorpName, contact.CorpFullName, contact.Type, contact.Gender, contact.UnionId));
        Assert.Equal(["zhangsan", "lisi"], contact.FollowUsers.Select(f => f.UserId));
        var follower = contact.FollowUsers[0];
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000), follower.CreatedAt);
        Assert.Equal([WeComStandIn.MobileOf("wmEXT001")], follower.RemarkMobiles!);
        Assert.Equal("expo-2024", follower.State);
        var tag = Assert.Single(follower.Tags!);
        Assert.Equal(("行业", "制造业", "et-manufacturing", 1), (tag.GroupName, tag.TagName, tag.TagId, tag.Type));
    }

    [Fact]
    public async Task Caches_the_access_token_across_calls_and_client_instances()
    {
        _wecom.AddContact("wm1", "a");

        for (var i = 0; i < 5; i++)
        {
            Assert.NotNull(await Client().GetExternalContactAsync("wm1", default));
        }

        Assert.Equal(1, _wecom.Calls(WeComStandIn.GetTokenPath));
        Assert.Equal(5, _wecom.Calls(WeComStandIn.GetContactPath));
    }

    [Fact]
    public async Task Concurrent_callers_share_one_token_fetch()
    {
        _wecom.DelayNext(TimeSpan.FromMilliseconds(200), path: WeComStandIn.GetTokenPath);

        var tokens = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Client().GetAccessTokenAsync(default)));

        Assert.Single(tokens.Distinct());
        Assert.Equal(1, _wecom.Calls(WeComStandIn.GetTokenPath));
    }

    [Fact]
    public async Task Refetches_the_token_when_it_is_close_to_expiry()
    {
        _wecom.TokenLifetimeSeconds = 300; // within the 5-minute margin: kept for half its life, 150 s
        var time = new ManualTime();
        using var host = _wecom.BuildHost(services: s => s.AddSingleton<TimeProvider>(time));

        var first = await Client(host).GetAccessTokenAsync(default);
        time.Advance(TimeSpan.FromSeconds(149));
        Assert.Equal(first, await Client(host).GetAccessTokenAsync(default));
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.NotEqual(first, await Client(host).GetAccessTokenAsync(default));
        Assert.Equal(2, _wecom.Calls(WeComStandIn.GetTokenPath));
    }

    [Fact]
    public async Task Refreshes_the_token_once_after_42001_and_retries_the_call()
    {
        _wecom.AddContact("wm1", "a");
        await Client().GetExternalContactAsync("wm1", default);
        _wecom.ExpireTokens();

        Assert.NotNull(await Client().GetExternalContactAsync("wm1", default));

        Assert.Equal(2, _wecom.Calls(WeComStandIn.GetTokenPath));
        Assert.Equal(3, _wecom.Calls(WeComStandIn.GetContactPath));
    }

    [Theory]
    [InlineData(40014)]
    [InlineData(40001)]
    [InlineData(42001)]
    public async Task Any_stale_token_code_triggers_one_refresh(int errCode)
    {
        _wecom.AddContact("wm1", "a");
        _wecom.ErrCodeNext(errCode, path: WeComStandIn.GetContactPath);

        Assert.NotNull(await Client().GetExternalContactAsync("wm1", default));
        Assert.Equal(2, _wecom.Calls(WeComStandIn.GetTokenPath));
    }

    [Fact]
    public async Task A_token_rejected_twice_is_an_error_not_a_loop()
    {
        _wecom.ErrCodeNext(42001, count: 5, path: WeComStandIn.GetContactPath);

        var ex = await Assert.ThrowsAsync<WeComApiException>(() => Client().GetExternalContactAsync("wm1", default));

        Assert.Equal(42001, ex.ErrCode);
        Assert.Equal(2, _wecom.Calls(WeComStandIn.GetContactPath));
        Assert.Equal(2, _wecom.Calls(WeComStandIn.GetTokenPath));
    }

    [Fact]
    public async Task Not_an_external_contact_is_null()
    {
        Assert.Null(await Client().GetExternalContactAsync("wm-unknown", default));
    }

    [Fact]
    public async Task Other_errcodes_throw_without_leaking_the_token()
    {
        _wecom.ErrCodeNext(60011, path: WeComStandIn.GetContactPath, errMsg: "no privilege to access/modify contact/party/agent");

        var ex = await Assert.ThrowsAsync<WeComApiException>(() => Client().GetExternalContactAsync("wm1", default));

        Assert.Equal((60011, "externalcontact/get"), (ex.ErrCode, ex.Api));
        Assert.DoesNotContain(Assert.Single(_wecom.IssuedTokens), ex.ToString(), StringComparison.Ordinal);
        Assert.Equal(1, _wecom.Calls(WeComStandIn.GetTokenPath));
    }

    [Fact]
    public async Task A_wrong_secret_fails_gettoken_without_leaking_the_secret()
    {
        using var host = _wecom.BuildHost(services: s => s.PostConfigure<WeComOptions>(o => o.Secret = "wrong-secret-value"));

        var ex = await Assert.ThrowsAsync<WeComApiException>(() => Client(host).GetAccessTokenAsync(default));

        Assert.Equal(40001, ex.ErrCode);
        Assert.DoesNotContain("wrong-secret-value", ex.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Two_server_errors_then_success_is_retried_to_success()
    {
        _wecom.AddContact("wm1", "a");
        await Client().GetAccessTokenAsync(default);
        _wecom.FailNext(2, path: WeComStandIn.GetContactPath);

        Assert.NotNull(await Client().GetExternalContactAsync("wm1", default));
        Assert.Equal(3, _wecom.Calls(WeComStandIn.GetContactPath));
    }

    [Fact]
    public async Task Server_errors_beyond_the_retries_surface_as_http_errors()
    {
        await Client().GetAccessTokenAsync(default);
        _wecom.FailNext(3, HttpStatusCode.ServiceUnavailable, WeComStandIn.GetContactPath);

        var ex = await Assert.ThrowsAsync<HttpRequestException>(() => Client().GetExternalContactAsync("wm1", default));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, ex.StatusCode);
        Assert.Equal(3, _wecom.Calls(WeComStandIn.GetContactPath));
    }

    [Fact]
    public async Task A_slow_answer_times_out_and_is_retried()
    {
        _wecom.AddContact("wm1", "a");
        await Client().GetAccessTokenAsync(default);
        _wecom.DelayNext(TimeSpan.FromSeconds(10), path: WeComStandIn.GetContactPath);

        var clock = Stopwatch.StartNew();
        Assert.NotNull(await Client().GetExternalContactAsync("wm1", default));

        Assert.Equal(2, _wecom.Calls(WeComStandIn.GetContactPath));
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1.9), TimeSpan.FromSeconds(9));
    }

    [Fact]
    public async Task A_hanging_server_is_abandoned_after_the_attempt_timeouts()
    {
        await Client().GetAccessTokenAsync(default);
        _wecom.HangNext(3, WeComStandIn.GetContactPath);

        await Assert.ThrowsAsync<Polly.Timeout.TimeoutRejectedException>(() => Client().GetExternalContactAsync("wm1", default));
        Assert.Equal(3, _wecom.Calls(WeComStandIn.GetContactPath));
    }

    [Fact]
    public async Task The_circuit_opens_after_repeated_failures_and_then_fails_fast()
    {
        using var host = _wecom.BuildHost(new OutboundHttpOptions
        {
            AttemptTimeout = TimeSpan.FromSeconds(2),
            MaxRetries = 0,
            FailureRatio = 0.5,
            MinimumThroughput = 4,
            SamplingDuration = TimeSpan.FromSeconds(30),
            BreakDuration = TimeSpan.FromSeconds(30),
        });
        await Client(host).GetAccessTokenAsync(default);
        _wecom.FailNext(100, path: WeComStandIn.GetContactPath);

        for (var i = 0; i < 3; i++)
        {
            await Assert.ThrowsAsync<HttpRequestException>(() => Client(host).GetExternalContactAsync("wm1", default));
        }

        await Assert.ThrowsAsync<BrokenCircuitException>(() => Client(host).GetExternalContactAsync("wm1", default));
        await Assert.ThrowsAsync<BrokenCircuitException>(() => Client(host).MarkTagAsync("u", "wm1", ["t"], [], default));
        Assert.Equal(3, _wecom.Calls(WeComStandIn.GetContactPath));
        Assert.Equal(0, _wecom.Calls(WeComStandIn.MarkTagPath));
    }

    [Fact]
    public async Task Mark_tag_posts_the_documented_body()
    {
        await Client().MarkTagAsync("zhangsan", "wmEXT001", ["et-a", "et-b"], ["et-old"], default);

        using var body = JsonDocument.Parse(Assert.Single(_wecom.Bodies(WeComStandIn.MarkTagPath)));
        var root = body.RootElement;
        Assert.Equal(["userid", "external_userid", "add_tag", "remove_tag"], root.EnumerateObject().Select(p => p.Name));
        Assert.Equal("zhangsan", root.GetProperty("userid").GetString());
        Assert.Equal("wmEXT001", root.GetProperty("external_userid").GetString());
        Assert.Equal(["et-a", "et-b"], root.GetProperty("add_tag").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["et-old"], root.GetProperty("remove_tag").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task Mark_tag_with_nothing_to_do_makes_no_call()
    {
        await Client().MarkTagAsync("zhangsan", "wmEXT001", [], [], default);
        Assert.Equal(0, _wecom.Calls(WeComStandIn.MarkTagPath));
    }

    [Fact]
    public async Task Mark_tag_resends_the_same_body_after_a_server_error()
    {
        await Client().GetAccessTokenAsync(default);
        _wecom.FailNext(1, path: WeComStandIn.MarkTagPath);

        await Client().MarkTagAsync("zhangsan", "wmEXT001", ["et-a"], [], default);

        var bodies = _wecom.Bodies(WeComStandIn.MarkTagPath);
        Assert.Equal(2, bodies.Count);
        Assert.Equal(bodies[0], bodies[1]);
    }

    [Fact]
    public async Task Mark_tag_errcodes_throw()
    {
        _wecom.ErrCodeNext(40068, path: WeComStandIn.MarkTagPath, errMsg: "invalid tagid");

        var ex = await Assert.ThrowsAsync<WeComApiException>(() => Client().MarkTagAsync("u", "wm", ["nope"], [], default));
        Assert.Equal(40068, ex.ErrCode);
    }

    [Fact]
    public async Task Remark_posts_only_the_fields_given()
    {
        await Client().UpdateRemarkAsync("zhangsan", "wmEXT001", "王总-华东精密", null, default);

        using var body = JsonDocument.Parse(Assert.Single(_wecom.Bodies(WeComStandIn.RemarkPath)));
        Assert.Equal(["userid", "external_userid", "remark"], body.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal("王总-华东精密", body.RootElement.GetProperty("remark").GetString());
    }

    [Fact]
    public async Task AddWeCom_refuses_to_start_without_valid_settings()
    {
        using var host = _wecom.BuildHost(services: s => s.PostConfigure<WeComOptions>(o => o.EncodingAesKey = "short"));

        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("EncodingAesKey", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddWeCom_registers_the_callback_crypto_from_settings()
    {
        var crypto = _host.Services.GetRequiredService<WeComCrypto>();
        var reference = new WeComCrypto(WeComStandIn.DefaultToken, WeComStandIn.DefaultEncodingAesKey, _wecom.CorpId);

        Assert.Equal("hi", crypto.Decrypt(reference.Encrypt("hi")));
    }

    private sealed class ManualTime : TimeProvider
    {
        private DateTimeOffset _now = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}
