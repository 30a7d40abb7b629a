using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Cdp.Shared.Events;
using Cdp.Tests.Hosting;
using Cdp.Tests.Support;
using Dapper;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Cdp.Tests.Events;

/// <summary>
/// The events host as the website SDK meets it: a console origin and a site secret configured, the origins of publishable
/// keys re-read every second, and a stand-in for client addresses (<see cref="ClientIpHeader"/>, as Kestrel or the Azure
/// front end would set the peer).
/// </summary>
public sealed class EventsSdkApp : EventsApp
{
    public const string SiteSecret = "test-site-secret-0123456789abcdef-0123456789";
    public const string ConsoleOrigin = "https://console.cdp-test.example";
    public const string ClientIpHeader = "X-Test-Client-Ip";

    protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings =>
    [
        new("Events:SiteSecret", SiteSecret),
        new("Auth:AllowedOrigins", ConsoleOrigin + ", https://other-console.cdp-test.example"),   // one app setting, comma-separated
        new("Auth:PublishableOriginsCacheTtl", "00:00:01"),
        new("Events:RateLimitPerKey", "100000"),   // the tests that look at limits start hosts with small ones
        new("Events:RateLimitPerIp", "100000"),
    ];

    protected override void ConfigureServices(IServiceCollection services) => services.AddSingleton<IStartupFilter, ClientAddressFromHeader>();

    sealed class ClientAddressFromHeader : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((http, nextMiddleware) =>
            {
                if (http.Request.Headers[ClientIpHeader].FirstOrDefault() is { } ip) http.Connection.RemoteIpAddress = IPAddress.Parse(ip);
                return nextMiddleware(http);
            });
            next(app);
        };
    }
}

/// <summary>POST /api/events from web pages: publishable keys bound to origins, CORS, rate limits in Redis, identity tokens.</summary>
public sealed class EventsSdkTests(EventsSdkApp app) : IClassFixture<EventsSdkApp>
{
    static readonly TimeSpan Landing = TimeSpan.FromSeconds(30);

    static string NewOrigin() => $"https://{TestData.Id("site")}.example.com";

    static string NewClientIp() => $"10.{Random.Shared.Next(256)}.{Random.Shared.Next(256)}.{Random.Shared.Next(1, 255)}";

    async Task<(string Key, string KeyId)> PublishableKeyAsync(params string[] origins)
    {
        using var response = await app.Client.PostAsJsonAsync("/api/admin/api-keys",
            new { name = TestData.Id("site"), kind = "publishable", permissions = new[] { "events:write" }, allowedOrigins = origins });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        using var created = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (created.RootElement.GetProperty("key").GetString()!, created.RootElement.GetProperty("info").GetProperty("keyId").GetString()!);
    }

    static HttpRequestMessage Post(string key, string? origin, IEnumerable<object> events, string? clientIp = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/events") { Content = JsonContent.Create(new { events }) };
        request.Headers.Authorization = new("Bearer", key);
        if (origin is not null) request.Headers.Add("Origin", origin);
        if (clientIp is not null) request.Headers.Add(EventsSdkApp.ClientIpHeader, clientIp);
        return request;
    }

    /// <summary>What a browser sends before a cross-origin POST with Authorization and JSON: no credentials.</summary>
    static HttpRequestMessage Preflight(string path, string origin, string method = "POST")
    {
        var request = new HttpRequestMessage(HttpMethod.Options, path);
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", method);
        request.Headers.Add("Access-Control-Request-Headers", "authorization,content-type");
        return request;
    }

    static object[] OneEvent() => [EventsApp.Event(TestData.Id("e"), TestData.Id("u"))];

    static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(", ", values) : null;

    [Fact]
    public async Task A_publishable_key_posts_from_its_origin_with_CORS_headers_and_is_refused_from_any_other()
    {
        var origin = NewOrigin();
        var (key, _) = await PublishableKeyAsync(origin);
        using var sdk = app.NewClient();

        using var accepted = await sdk.SendAsync(Post(key, origin, OneEvent()));
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        Assert.Equal(origin, Header(accepted, "Access-Control-Allow-Origin"));
        Assert.Contains("Origin", Header(accepted, "Vary"));
        Assert.Null(Header(accepted, "Access-Control-Allow-Credentials"));
        Assert.Contains("Retry-After", Header(accepted, "Access-Control-Expose-Headers"));

        foreach (var foreign in new[] { NewOrigin(), null })
        {
            using var refused = await sdk.SendAsync(Post(key, foreign, OneEvent()));
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
            Assert.Null(Header(refused, "Access-Control-Allow-Origin"));
        }
    }

    [Fact]
    public async Task A_preflight_gets_CORS_headers_for_an_allowed_origin_only_and_both_hosts_answer_it_alike()
    {
        var origin = NewOrigin();
        await PublishableKeyAsync(origin);
        await using var azure = AzureFunctionsHost.Create(app.Settings);
        using var sdk = app.NewClient();

        foreach (var send in new Func<HttpRequestMessage, Task<HttpResponseMessage>>[] { sdk.SendAsync, r => azure.SendAsync(r) })
        {
            using var allowed = await send(Preflight("/api/events", origin));
            Assert.Equal(HttpStatusCode.NoContent, allowed.StatusCode);
            Assert.Equal(origin, Header(allowed, "Access-Control-Allow-Origin"));
            Assert.Equal("POST", Header(allowed, "Access-Control-Allow-Methods"));
            Assert.Equal("Authorization, Content-Type, X-Cdp-Csrf", Header(allowed, "Access-Control-Allow-Headers"));
            Assert.NotNull(Header(allowed, "Access-Control-Max-Age"));
            Assert.Contains("Origin", Header(allowed, "Vary"));
            Assert.Null(Header(allowed, "Access-Control-Allow-Credentials"));

            // A foreign origin, and the key's origin on a path publishable keys cannot use: an answer without CORS headers.
            foreach (var (path, from) in new[] { ("/api/events", NewOrigin()), ($"/api/accounts/{Guid.NewGuid()}", origin), ("/api/admin/api-keys", origin) })
            {
                using var refused = await send(Preflight(path, from));
                Assert.Equal(HttpStatusCode.NoContent, refused.StatusCode);
                Assert.DoesNotContain(refused.Headers, h => h.Key.StartsWith("Access-Control-", StringComparison.OrdinalIgnoreCase));
            }

            // The configured console origin: every path, with the session cookie.
            using var console = await send(Preflight($"/api/contacts/{Guid.NewGuid()}/tags", EventsSdkApp.ConsoleOrigin, "PUT"));
            Assert.Equal(EventsSdkApp.ConsoleOrigin, Header(console, "Access-Control-Allow-Origin"));
            Assert.Equal("true", Header(console, "Access-Control-Allow-Credentials"));
            Assert.Contains("PUT", Header(console, "Access-Control-Allow-Methods"));
        }
    }

    [Fact]
    public async Task The_console_origin_reads_answers_with_credentials_and_a_stranger_reads_nothing()
    {
        var stranger = NewOrigin();
        foreach (var (origin, allowed) in new[] { ("https://other-console.cdp-test.example", true), (stranger, false) })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/admin/api-keys");
            request.Headers.Add("Origin", origin);
            using var response = await app.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);   // CORS only tells the browser whether the page may read it
            Assert.Equal(allowed ? origin : null, Header(response, "Access-Control-Allow-Origin"));
            Assert.Equal(allowed ? "true" : null, Header(response, "Access-Control-Allow-Credentials"));
        }
    }

    [Fact]
    public async Task A_new_keys_origin_is_allowed_at_once_and_a_revoked_ones_stops_on_every_host_within_the_cache_period()
    {
        var origin = NewOrigin();
        var other = app.StartHost();
        try
        {
            using var here = app.NewClient();
            using var there = app.NewClient(other);
            async Task<string?> AllowedOn(HttpClient host)
            {
                using var answer = await host.SendAsync(Preflight("/api/events", origin));
                return Header(answer, "Access-Control-Allow-Origin");
            }
            Assert.Null(await AllowedOn(there));   // a miss is remembered for a second on that host

            var (_, keyId) = await PublishableKeyAsync(origin);
            Assert.Equal(origin, await AllowedOn(here));
            await Eventually.Until(async () => await AllowedOn(there) == origin, TimeSpan.FromSeconds(20), "the new key's origin on the other host");

            using var revoked = await app.Client.DeleteAsync($"/api/admin/api-keys/{keyId}");
            Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);
            Assert.Null(await AllowedOn(here));
            await Eventually.Until(async () => await AllowedOn(there) is null, TimeSpan.FromSeconds(20), "the revoked key's origin on the other host");
        }
        finally
        {
            await app.StopHostAsync(other);
        }
    }

    [Fact]
    public async Task Above_its_rate_a_key_gets_429_with_Retry_After_and_the_count_is_shared_by_two_hosts()
    {
        var limits = new Dictionary<string, string?> { ["Events:RateLimitPerKey"] = "3", ["Events:RateLimitWindow"] = "00:01:00" };
        var (first, second) = (app.StartHost(limits), app.StartHost(limits));
        try
        {
            var origin = NewOrigin();
            var (key, _) = await PublishableKeyAsync(origin);
            using var a = app.NewClient(first);
            using var b = app.NewClient(second);

            foreach (var client in new[] { a, b, a })
            {
                using var ok = await client.SendAsync(Post(key, origin, OneEvent(), NewClientIp()));
                Assert.Equal(HttpStatusCode.Accepted, ok.StatusCode);
            }
            foreach (var client in new[] { b, a })
            {
                using var limited = await client.SendAsync(Post(key, origin, OneEvent(), NewClientIp()));
                Assert.Equal((HttpStatusCode)429, limited.StatusCode);
                Assert.Equal("application/problem+json", limited.Content.Headers.ContentType?.MediaType);
                var retryAfter = int.Parse(Header(limited, "Retry-After")!, System.Globalization.CultureInfo.InvariantCulture);
                Assert.InRange(retryAfter, 1, 60);
                Assert.Equal(origin, Header(limited, "Access-Control-Allow-Origin"));   // so the SDK can read Retry-After
            }

            // Another key is counted apart; a server's secret key (a trusted machine) is never limited.
            var (other, _) = await PublishableKeyAsync(origin);
            using (var fresh = await a.SendAsync(Post(other, origin, OneEvent(), NewClientIp())))
                Assert.Equal(HttpStatusCode.Accepted, fresh.StatusCode);
            using var created = await app.Client.PostAsJsonAsync("/api/admin/api-keys", new { name = TestData.Id("erp"), permissions = new[] { "events:write" } });
            var secretKey = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("key").GetString()!;
            for (var i = 0; i < 5; i++)
            {
                using var server = await a.SendAsync(Post(secretKey, null, OneEvent()));
                Assert.Equal(HttpStatusCode.Accepted, server.StatusCode);
            }
        }
        finally
        {
            await app.StopHostAsync(first);
            await app.StopHostAsync(second);
        }
    }

    [Fact]
    public async Task One_client_address_is_limited_across_keys()
    {
        var host = app.StartHost(new Dictionary<string, string?> { ["Events:RateLimitPerKey"] = "0", ["Events:RateLimitPerIp"] = "2" });
        try
        {
            var origin = NewOrigin();
            var (key1, _) = await PublishableKeyAsync(origin);
            var (key2, _) = await PublishableKeyAsync(origin);
            var (ip, otherIp) = (NewClientIp(), NewClientIp());
            using var sdk = app.NewClient(host);

            foreach (var key in new[] { key1, key2 })
            {
                using var ok = await sdk.SendAsync(Post(key, origin, OneEvent(), ip));
                Assert.Equal(HttpStatusCode.Accepted, ok.StatusCode);
            }
            using (var limited = await sdk.SendAsync(Post(key1, origin, OneEvent(), ip)))
            {
                Assert.Equal((HttpStatusCode)429, limited.StatusCode);
                Assert.NotNull(Header(limited, "Retry-After"));
            }
            using var elsewhere = await sdk.SendAsync(Post(key1, origin, OneEvent(), otherIp));
            Assert.Equal(HttpStatusCode.Accepted, elsewhere.StatusCode);
        }
        finally
        {
            await app.StopHostAsync(host);
        }
    }

    [Fact]
    public async Task Without_Redis_the_limit_lets_requests_through_and_says_so_in_the_log()
    {
        var host = app.StartHost(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Redis"] = "127.0.0.1:1,abortConnect=false,connectTimeout=200",
            ["Events:RateLimitPerKey"] = "1",
            ["Events:RateLimitPerIp"] = "1",
        });
        try
        {
            var origin = NewOrigin();
            var (key, _) = await PublishableKeyAsync(origin);
            using var sdk = app.NewClient(host);
            var ip = NewClientIp();
            for (var i = 0; i < 3; i++)
            {
                using var response = await sdk.SendAsync(Post(key, origin, OneEvent(), ip));
                Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            }
            Assert.Contains(app.Logs.Lines, l => l.Contains("Event rate limit: Redis", StringComparison.Ordinal));
        }
        finally
        {
            await app.StopHostAsync(host);
        }
    }

    [Fact]
    public async Task An_untrusted_contact_id_leaves_the_contact_untouched_and_a_valid_identity_token_makes_it_count()
    {
        var origin = NewOrigin();
        var (key, _) = await PublishableKeyAsync(origin);
        var (contact, _) = await app.NewContactAsync(withWeCom: false);
        var user = TestData.Id("u");
        using var sdk = app.NewClient();

        var untrusted = new object[]
        {
            EventsApp.Event($"{user}-1", user, contactId: contact),
            new { eventId = $"{user}-2", userId = user, type = "download", contactId = contact, occurredAt = DateTimeOffset.UtcNow.AddMinutes(-4).ToString("O"),
                identityToken = VerifyIdentityTokens.Token(EventsSdkApp.SiteSecret, user + "-someone-else") },
        };
        using (var response = await sdk.SendAsync(Post(key, origin, untrusted)))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            var answer = (await response.Content.ReadFromJsonAsync<EventsApp.AcceptedEvents>(JsonSerializerOptions.Web))!;
            Assert.Equal((2, 2), (answer.Accepted, answer.Untrusted));
        }
        await app.DrainedAsync(user, Landing);

        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        Assert.Equal(0, await conn.ExecuteScalarAsync<long>("select count(*) from touchpoint where contact_id = @contact", new { contact }));
        // Stored for the user alone: no contact in the ClickHouse rows, and no summary asked for.
        Assert.Equal("2\t0", await app.ClickHouseSql(
            $"SELECT uniqExact(event_id), countIf(toString(contact_id) = '{contact}') FROM {app.ClickHouseDatabase}.behaviour_event WHERE user_id = '{app.UserHash(user)}'"));
        Assert.False(await conn.ExecuteScalarAsync<bool>("select exists (select 1 from contact_summary where contact_id = @contact)", new { contact }));

        var trusted = new { eventId = $"{user}-3", userId = user, type = "page_view", contactId = contact, occurredAt = DateTimeOffset.UtcNow.AddMinutes(-3).ToString("O"),
            identityToken = VerifyIdentityTokens.Token(EventsSdkApp.SiteSecret, user), properties = new { path = "/pricing" } };
        using (var response = await sdk.SendAsync(Post(key, origin, [trusted])))
        {
            var answer = (await response.Content.ReadFromJsonAsync<EventsApp.AcceptedEvents>(JsonSerializerOptions.Web))!;
            Assert.Equal((1, 0), (answer.Accepted, answer.Untrusted));
        }
        Assert.Equal(new[] { NameBasedGuid.Create(NameBasedGuid.EventNamespace, $"{user}-3") },
            await conn.QueryAsync<Guid>("select touchpoint_id from touchpoint where contact_id = @contact", new { contact }));
        await Eventually.Until(async () => await conn.ExecuteScalarAsync<bool>(
            "select exists (select 1 from contact_summary where contact_id = @contact and total_touchpoints = 1)", new { contact }),
            Landing, "the contact's summary with the one trusted touchpoint");
    }
}
