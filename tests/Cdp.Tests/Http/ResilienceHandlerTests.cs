using System.Net;
using System.Net.Http.Json;
using Cdp.Shared.Http;
using Cdp.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Logging;
using Polly.CircuitBreaker;

namespace Cdp.Tests.Http;

public sealed class ResilienceHandlerTests : IAsyncLifetime
{
    private const string Path = WeComStandIn.MarkTagPath;

    private static readonly OutboundHttpOptions Fast = new()
    {
        AttemptTimeout = TimeSpan.FromSeconds(10),   // never tripped by a slow machine (2 s was, at load 35), only by cued delays
        MaxRetries = 2,
        RetryBaseDelay = TimeSpan.FromMilliseconds(5),
        MinimumThroughput = 1000,
    };

    private readonly List<ServiceProvider> _providers = [];
    private WeComStandIn _server = null!;

    public async Task InitializeAsync() => _server = await WeComStandIn.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (var provider in _providers) await provider.DisposeAsync();
        await _server.DisposeAsync();
    }

    /// <summary>A factory client with its own pipeline (so its own circuit), wired as the platform wires one.</summary>
    private HttpClient Client(OutboundHttpOptions? options = null)
    {
        var services = new ServiceCollection();
        services.AddHttpClient("test", c => c.BaseAddress = _server.BaseUrl).AddOutboundResilience(options ?? Fast);
        var provider = services.BuildServiceProvider();
        _providers.Add(provider);
        return provider.GetRequiredService<IHttpClientFactory>().CreateClient("test");
    }

    [Fact]
    public async Task Resends_a_json_post_with_the_same_body_and_content_type_after_server_errors()
    {
        using var http = Client();
        _server.FailNext(2, path: Path);

        using var response = await http.PostAsJsonAsync(Path, new { userid = "u1", add_tag = new[] { "t1" } });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var bodies = _server.Bodies(Path);
        Assert.Equal(3, bodies.Count);
        Assert.All(bodies, b => Assert.Equal("""{"userid":"u1","add_tag":["t1"]}""", b));
        Assert.Equal(HttpMethod.Post, response.RequestMessage!.Method);
    }

    [Fact]
    public async Task Resends_a_one_shot_stream_body_intact()
    {
        using var http = Client();
        _server.FailNext(1, path: Path);
        using var content = new StreamContent(new OneShotStream("""{"remark":"王总"}"""u8.ToArray()));
        content.Headers.ContentType = new("application/json") { CharSet = "utf-8" };

        using var response = await http.PostAsync(Path, content);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["""{"remark":"王总"}""", """{"remark":"王总"}"""], _server.Bodies(Path));
    }

    [Theory]
    [InlineData(HttpStatusCode.RequestTimeout)]
    [InlineData(HttpStatusCode.TooManyRequests)]
    [InlineData(HttpStatusCode.InternalServerError)]
    [InlineData(HttpStatusCode.BadGateway)]
    [InlineData(HttpStatusCode.ServiceUnavailable)]
    public async Task Retries_transient_statuses(HttpStatusCode status)
    {
        using var http = Client();
        _server.FailNext(1, status, Path);

        using var post = await http.PostAsync(Path, new StringContent("{}"));

        Assert.Equal(HttpStatusCode.OK, post.StatusCode);
        Assert.Equal(2, _server.Calls(Path));
    }

    [Theory]
    [InlineData(HttpStatusCode.BadRequest)]
    [InlineData(HttpStatusCode.Unauthorized)]
    [InlineData(HttpStatusCode.NotFound)]
    public async Task Does_not_retry_other_client_errors(HttpStatusCode status)
    {
        using var http = Client();
        _server.FailNext(1, status, Path);

        using var response = await http.PostAsync(Path, new StringContent("{}"));

        Assert.Equal(status, response.StatusCode);
        Assert.Equal(1, _server.Calls(Path));
    }

    [Fact]
    public async Task Gives_up_after_the_configured_retries_with_the_last_answer()
    {
        using var http = Client();
        _server.FailNext(10, HttpStatusCode.BadGateway, Path);

        using var response = await http.PostAsync(Path, new StringContent("{}"));

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal(3, _server.Calls(Path));
    }

    [Fact]
    public async Task A_slow_attempt_is_cut_off_and_retried()
    {
        using var http = Client();
        _server.DelayNext(TimeSpan.FromMinutes(2), path: Path);   // cut off by the attempt timeout, which aborts it

        using var response = await http.PostAsync(Path, new StringContent("{}"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, _server.Calls(Path));
    }

    [Fact]
    public async Task A_caller_cancellation_is_not_retried()
    {
        using var http = Client(new OutboundHttpOptions { AttemptTimeout = TimeSpan.FromSeconds(5), RetryBaseDelay = TimeSpan.FromMilliseconds(5) });
        _server.HangNext(5, Path);
        using var cts = new CancellationTokenSource();

        var call = http.PostAsync(Path, new StringContent("{}"), cts.Token);
        await Eventually.Until(() => _server.Calls(Path) == 1, TimeSpan.FromSeconds(10), "request reached the server");
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        await Task.Delay(300);   // a retry, if there were one, would have reached the server by now
        Assert.Equal(1, _server.Calls(Path));
    }

    [Fact]
    public async Task Connection_failures_are_retried_then_surface()
    {
        var deadPort = _server.BaseUrl.Port;
        await _server.DisposeAsync();
        using var http = Client();

        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync($"http://127.0.0.1:{deadPort}/x"));
        _server = await WeComStandIn.StartAsync();
    }

    [Fact]
    public async Task Clients_from_the_factory_share_one_circuit_per_name()
    {
        var services = new ServiceCollection();
        services.AddHttpClient("crm", c => c.BaseAddress = _server.BaseUrl)
            .AddOutboundResilience(new OutboundHttpOptions
            {
                MaxRetries = 0,
                MinimumThroughput = 2,
                BreakDuration = TimeSpan.FromSeconds(30),
            });
        services.AddHttpClient("robot", c => c.BaseAddress = _server.BaseUrl).AddOutboundResilience(Fast);
        await using var provider = services.BuildServiceProvider();
        var factory = provider.GetRequiredService<IHttpClientFactory>();
        _server.FailNext(2, path: Path);

        using (var first = await factory.CreateClient("crm").PostAsync(Path, new StringContent("{}")))
        using (var second = await factory.CreateClient("crm").PostAsync(Path, new StringContent("{}")))
        {
            Assert.Equal(HttpStatusCode.InternalServerError, second.StatusCode);
        }

        await Assert.ThrowsAsync<BrokenCircuitException>(() => factory.CreateClient("crm").PostAsync(Path, new StringContent("{}")));
        using var other = await factory.CreateClient("robot").PostAsync(Path, new StringContent("{}"));
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        Assert.Equal(3, _server.Calls(Path));
    }

    [Fact]
    public async Task Logs_name_the_downstream_and_never_the_url()
    {
        var logs = new LogCapture();
        var services = new ServiceCollection().AddLogging(b => b.AddProvider(logs));
        services.AddHttpClient("crm", c => c.BaseAddress = _server.BaseUrl)
            .AddOutboundResilience(new OutboundHttpOptions
            {
                AttemptTimeout = TimeSpan.FromSeconds(30),   // a busy machine must not turn the 500s into timeouts
                MaxRetries = 1,
                RetryBaseDelay = TimeSpan.FromMilliseconds(5),
                MinimumThroughput = 2,
            });
        await using var provider = services.BuildServiceProvider();
        _server.FailNext(2, path: Path);

        using var failed = await provider.GetRequiredService<IHttpClientFactory>().CreateClient("crm")
            .PostAsync(Path + "?access_token=secret-token", new StringContent("{}"));

        Assert.Equal(HttpStatusCode.InternalServerError, failed.StatusCode);
        Assert.Contains(logs.Lines, l => l.Contains("Outbound crm attempt 1 failed (HTTP 500)", StringComparison.Ordinal));
        Assert.Contains(logs.Lines, l => l.Contains("Outbound crm circuit opened", StringComparison.Ordinal));
        Assert.DoesNotContain(logs.Lines, l => l.Contains("secret-token", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(HttpStatusCode.OK, false)]
    [InlineData(HttpStatusCode.BadRequest, false)]
    [InlineData(HttpStatusCode.RequestTimeout, true)]
    [InlineData(HttpStatusCode.TooManyRequests, true)]
    [InlineData(HttpStatusCode.InternalServerError, true)]
    [InlineData(HttpStatusCode.GatewayTimeout, true)]
    public void Classifies_statuses(HttpStatusCode status, bool transient) =>
        Assert.Equal(transient, HttpClientResiliencePredicates.IsTransient(Polly.Outcome.FromResult(new HttpResponseMessage(status))));

    /// <summary>A body that can be read once, like a request stream being forwarded.</summary>
    private sealed class OneShotStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;

        public override long Seek(long offset, SeekOrigin loc) => throw new NotSupportedException();
    }
}
