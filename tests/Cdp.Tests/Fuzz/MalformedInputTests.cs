using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Cdp.Orchestrations;
using Cdp.Shared.Ingestion;
using Cdp.Tests.Support;

namespace Cdp.Tests.Fuzz;

/// <summary>
/// No input yields a 5xx (issue 10): malformed bodies, encodings, depths, sizes, types, control characters, boundary
/// numbers and dates and forged headers, generated with a fixed seed against every route of <see cref="ApiRoutes.All"/>
/// as the admin (so they reach the route logic), and the platform is healthy afterwards.
/// </summary>
public sealed partial class MalformedInputTests(CdpApp app) : IClassFixture<CdpApp>
{
    sealed record Case(string Label, HttpMethod Method, string Path, byte[]? Body, string? MediaType,
        Action<HttpRequestMessage>? Headers = null, string? SignAs = null);

    static readonly string[] Channels = [ChannelNames.Crm, ChannelNames.Erp, ChannelNames.WeChat, ChannelNames.WeCom];

    static byte[] U(string s) => Encoding.UTF8.GetBytes(s);
    static byte[] Cat(params byte[][] parts) => [.. parts.SelectMany(p => p)];

    /// <summary>Bodies that break the text and JSON rules; each is sent to every route that takes a body.</summary>
    static IEnumerable<(string Label, byte[] Body)> Bodies(Random random)
    {
        yield return ("invalid UTF-8 in a string", Cat(U("{\"name\":\""), [0xC3, 0x28], U("\"}")));
        yield return ("lone continuation byte", Cat(U("{\"events\":[\""), [0x80], U("\"]}")));
        yield return ("overlong slash", Cat(U("{\"a\":\""), [0xC0, 0xAF], U("\"}")));
        yield return ("overlong NUL", Cat(U("{\"a\":\""), [0xC0, 0x80], U("\"}")));
        yield return ("UTF-16 surrogate in UTF-8", Cat(U("{\"a\":\""), [0xED, 0xA0, 0x80], U("\"}")));
        yield return ("UTF-16LE BOM", Cat([0xFF, 0xFE], Encoding.Unicode.GetBytes("{\"a\":1}")));
        yield return ("UTF-16BE BOM", Cat([0xFE, 0xFF], Encoding.BigEndianUnicode.GetBytes("{\"a\":1}")));
        yield return ("UTF-8 BOM", Cat([0xEF, 0xBB, 0xBF], U("{}")));
        yield return ("escaped NUL in a value", U("{\"name\":\"a\\u0000b\",\"tags\":[\"x\\u0000\"],\"content\":\"\\u0000\"}"));
        yield return ("escaped NUL in a name", U("{\"na\\u0000me\":1}"));
        yield return ("raw control character", U("{\"name\":\"a\u0001b\"}"));
        yield return ("10,000 nested arrays", U(new string('[', 10_000) + new string(']', 10_000)));
        yield return ("deep objects", U(string.Concat(Enumerable.Repeat("{\"a\":", 500)) + "1" + new string('}', 500)));
        yield return ("empty", []);
        yield return ("null", U("null"));
        yield return ("array", U("[]"));
        yield return ("number", U("1e309"));
        yield return ("truncated", U("{\"a\":"));
        yield return ("wrong types", U("{\"tags\":7,\"content\":[],\"decision\":{},\"roles\":\"admin\",\"permissions\":1,\"name\":false,\"opportunity\":\"x\",\"events\":{},\"entityId\":[],\"ownerId\":1}"));
        yield return ("boundary numbers", U("{\"amount\":1e309,\"limit\":-0,\"n\":123456789012345678901234567890,\"opportunity\":{\"name\":\"x\",\"amount\":1e309}}"));
        yield return ("huge int amount", U("{\"opportunity\":{\"name\":\"x\",\"amount\":99999999999999999999999999999999}}"));
        yield return ("boundary dates", U("{\"occurredAt\":\"9999-12-31T23:59:59-01:00\",\"modifiedAt\":\"0001-01-01T00:00:00+01:00\",\"expiresAt\":\"9999-12-31T23:59:59Z\"}"));
        yield return ("garbage bytes", Enumerable.Range(0, 64).Select(_ => (byte)random.Next(256)).ToArray());
        yield return ("a long string", U("{\"name\":\"" + new string('x', 300_000) + "\"}"));
    }

    /// <summary>Record-shaped bodies for the signed channels, signed correctly so they reach the payload rules.</summary>
    static IEnumerable<(string Label, byte[] Body)> ChannelBodies()
    {
        string Crm(string modifiedAt, string fields, string sourceId = "\"fz-1\"") =>
            $"{{\"sourceId\":{sourceId},\"objectType\":\"lead\",\"modifiedAt\":{modifiedAt},\"fields\":{fields}}}";
        var now = "\"" + DateTimeOffset.UtcNow.ToString("O") + "\"";
        yield return ("record: invalid UTF-8 in a field", Cat(U(Crm(now, "{\"LastName\":\"")[..^2]), [0xFF, 0xFE], U("\"}}")));
        yield return ("record: NUL in a field", U(Crm(now, "{\"LastName\":\"王\\u0000\"}")));
        yield return ("record: NUL in the source id", U(Crm(now, "{}", "\"a\\u0000\"")));
        yield return ("record: year 9999", U(Crm("\"9999-12-31T00:00:00Z\"", "{\"LastName\":\"王\"}")));
        yield return ("record: year 9999 with offset", U(Crm("\"9999-12-31T23:59:59-01:00\"", "{\"LastName\":\"王\"}")));
        yield return ("record: year 1", U(Crm("\"0001-01-01T00:00:00+01:00\"", "{\"LastName\":\"王\"}")));
        yield return ("record: numeric time", U(Crm("1e309", "{\"LastName\":\"王\"}")));
        yield return ("record: number fields", U(Crm(now, "{\"LastName\":1e309,\"MobilePhone\":-0,\"Email\":123456789012345678901234567890}")));
        yield return ("record: nested fields", U(Crm(now, "{\"LastName\":{\"a\":[1]},\"Company\":[\"x\"]}")));
        yield return ("record: fields not an object", U(Crm(now, "[]")));
        yield return ("record: numeric source id", U(Crm(now, "{}", "1e309")));
        yield return ("record: control characters", U(Crm(now, "{\"LastName\":\"\\u0001\\u001f\\u007f\\ud800\"}")));
        yield return ("form: NUL and future", U("{\"openId\":\"o\\u0000\",\"formId\":\"f\",\"submittedAt\":\"9999-12-31T00:00:00Z\",\"mobile\":\"\\u0000\"}"));
    }

    [GeneratedRegex(@"\{([^}:]+)(:[^}]*)?\}")]
    private static partial Regex Placeholder();

    static string Fill(string path, int n) => "/api/" + Placeholder().Replace(path, m => m.Groups[1].Value switch
    {
        "channel" => Channels[n % Channels.Length],
        _ when m.Groups[2].Value.Contains("guid", StringComparison.Ordinal) || m.Groups[1].Value.EndsWith("id", StringComparison.OrdinalIgnoreCase) => Guid.NewGuid().ToString(),
        _ => "fuzz" + n,
    });

    static List<Case> Generate()
    {
        var random = new Random(20261126);
        var cases = new List<Case>();
        var bodies = Bodies(random).ToList();
        var n = 0;
        foreach (var route in ApiRoutes.All)
        {
            foreach (var method in route.Methods.Select(m => new HttpMethod(m)))
            {
                var path = Fill(route.Path, n++);
                if (method == HttpMethod.Get || method == HttpMethod.Delete || method == HttpMethod.Options)
                {
                    cases.Add(new($"{route.Name}: odd query", method, path + "?limit=99999999999999&status=%00&q=%C3%28&from=9999-12-31&to=-0&page=1e309", null, null));
                    continue;
                }
                // Ingest routes get a body per channel below; the rest get every malformed body.
                foreach (var (label, body) in bodies)
                    cases.Add(new($"{route.Name}: {label}", method, path, body, "application/json"));
                cases.Add(new($"{route.Name}: duplicate Content-Type", method, path, U("{}"), null,
                    r => { r.Content!.Headers.TryAddWithoutValidation("Content-Type", "application/json"); r.Content.Headers.TryAddWithoutValidation("Content-Type", "text/plain"); }));
                cases.Add(new($"{route.Name}: absurd Content-Length", method, path, U("{}"), "application/json",
                    r => r.Content!.Headers.ContentLength = long.MaxValue));
                cases.Add(new($"{route.Name}: charset utf-16", method, path, Encoding.Unicode.GetBytes("{}"), "application/json; charset=utf-16"));
            }
        }

        foreach (var channel in new[] { ChannelNames.Crm, ChannelNames.Erp, ChannelNames.WeChat })
        {
            var path = $"/api/ingest/{channel}";
            foreach (var (label, body) in ChannelBodies().Concat(bodies))
                cases.Add(new($"{channel} signed: {label}", HttpMethod.Post, path, body, "application/json", SignAs: channel));
            string[] timestamps = ["", "abc", "-1", "99999999999999999999", "1e309", "0", "253402300799", " 1 "];
            foreach (var ts in timestamps)
                cases.Add(new($"{channel}: timestamp '{ts}'", HttpMethod.Post, path, U("{}"), "application/json",
                    r => { r.Headers.TryAddWithoutValidation("X-Cdp-Timestamp", ts); r.Headers.TryAddWithoutValidation("X-Cdp-Signature", "00"); }));
            string[] signatures = ["", "zz", new string('a', 64), new string('0', 10_000), "sha256=abc", "\u00e9"];
            foreach (var sig in signatures)
                cases.Add(new($"{channel}: signature '{sig[..Math.Min(8, sig.Length)]}'", HttpMethod.Post, path, U("{}"), "application/json",
                    r => { r.Headers.TryAddWithoutValidation("X-Cdp-Timestamp", DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture)); r.Headers.TryAddWithoutValidation("X-Cdp-Signature", sig); }));
            cases.Add(new($"{channel}: duplicate signature headers", HttpMethod.Post, path, U("{}"), "application/json",
                r => { r.Headers.TryAddWithoutValidation("X-Cdp-Timestamp", ["1", "2"]); r.Headers.TryAddWithoutValidation("X-Cdp-Signature", ["a", "b"]); }));
        }

        string[] wecomQueries = ["", "?msg_signature=a&timestamp=b&nonce=c", "?msg_signature=a&timestamp=b&nonce=c&echostr=%00%C3%28",
            "?msg_signature=&timestamp=&nonce=&echostr=", "?msg_signature=a&timestamp=99999999999999999999&nonce=c&echostr=" + new string('A', 4000)];
        foreach (var q in wecomQueries)
        {
            cases.Add(new($"wecom GET '{q}'", HttpMethod.Get, "/api/ingest/wecom" + q, null, null));
            cases.Add(new($"wecom POST xml '{q}'", HttpMethod.Post, "/api/ingest/wecom" + q, U("<xml><Encrypt><![CDATA[AAAA]]></Encrypt></xml>"), "text/xml"));
            cases.Add(new($"wecom POST bad xml '{q}'", HttpMethod.Post, "/api/ingest/wecom" + q, U("<xml><!DOCTYPE x [<!ENTITY a \"b\">]><Encrypt>&a;</Encrypt>"), "text/xml"));
            cases.Add(new($"wecom POST bad UTF-8 '{q}'", HttpMethod.Post, "/api/ingest/wecom" + q, Cat(U("<xml><Encrypt>"), [0xC0, 0xAF], U("</Encrypt></xml>")), "text/xml"));
        }

        string[] authorizations = ["Bearer", "Bearer ", "Bearer cdp_sk_", "Bearer cdp_pk_x", "Basic Og==", "Bearer " + new string('x', 8000), "bearer\tcdp_sk_\u00e9", "Negotiate abc"];
        foreach (var auth in authorizations)
            foreach (var p in new[] { "/api/accounts/" + Guid.NewGuid(), "/api/events", "/api/admin/api-keys" })
                cases.Add(new($"Authorization '{auth[..Math.Min(16, auth.Length)]}' on {p}", p == "/api/events" ? HttpMethod.Post : HttpMethod.Get, p,
                    p == "/api/events" ? U("{\"events\":[]}") : null, p == "/api/events" ? "application/json" : null,
                    r => r.Headers.TryAddWithoutValidation("Authorization", auth)));
        return cases;
    }

    static HttpRequestMessage Build(Case c)
    {
        var request = new HttpRequestMessage(c.Method, c.Path);
        if (c.Body is not null)
        {
            request.Content = new ByteArrayContent(c.Body);
            if (c.MediaType is not null) request.Content.Headers.TryAddWithoutValidation("Content-Type", c.MediaType);
        }
        if (c.SignAs is { } channel)
        {
            var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
            request.Headers.Add("X-Cdp-Timestamp", timestamp);
            request.Headers.Add("X-Cdp-Signature", WebhookSignature.Compute(CdpApp.SecretOf(channel), timestamp, c.Body ?? []));
        }
        c.Headers?.Invoke(request);
        return request;
    }

    [Fact]
    public async Task No_malformed_input_on_any_route_gets_a_5xx_and_the_platform_stays_healthy()
    {
        var cases = Generate();
        Assert.True(cases.Select(c => c.Label).Distinct().Count() >= 150, $"only {cases.Count} cases");
        var watch = Stopwatch.StartNew();
        var failures = new List<string>();
        var refusedByTransport = 0;
        foreach (var c in cases)
        {
            using var request = Build(c);
            try
            {
                using var response = await app.Client.SendAsync(request);
                if ((int)response.StatusCode >= 500)
                    failures.Add($"{c.Label} ({c.Method} {c.Path[..Math.Min(80, c.Path.Length)]}) -> {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            }
            catch (Exception e) when (c.Label.EndsWith("absurd Content-Length", StringComparison.Ordinal) && e is HttpRequestException or InvalidOperationException)
            {
                refusedByTransport++;   // the client would not send a body shorter than its declared length
            }
        }
        watch.Stop();
        Assert.True(failures.Count == 0, $"{failures.Count} of {cases.Count} cases answered 5xx:\n{string.Join("\n", failures)}");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), $"{cases.Count} cases took {watch.Elapsed}");

        using var health = await app.Client.GetAsync("/api/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        var (id, _) = await CdpApp.IngestAsync(app.Client, ChannelNames.Crm,
            Payloads.Crm("lead", new { LastName = "健康", FirstName = "检查", MobilePhone = TestData.Mobile() }));
        var settled = await CdpApp.SettledAsync(app.Client, id, TimeSpan.FromSeconds(60));
        Assert.Equal("processed", settled.Status);
        Assert.True(refusedByTransport <= cases.Count / 10);
    }

    static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"{(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    static HttpRequestMessage SignedBytes(string channel, byte[] body)
    {
        var request = CdpApp.Signed(channel, "{}");
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        request.Content = new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } };
        request.Headers.Remove("X-Cdp-Timestamp");
        request.Headers.Remove("X-Cdp-Signature");
        request.Headers.Add("X-Cdp-Timestamp", timestamp);
        request.Headers.Add("X-Cdp-Signature", WebhookSignature.Compute(CdpApp.SecretOf(channel), timestamp, body));
        return request;
    }

    [Theory]
    [InlineData("crm")]
    [InlineData("erp")]
    public async Task Invalid_UTF8_in_a_signed_record_is_400(string channel)
    {
        var json = Payloads.Crm("lead", new { LastName = "XX", MobilePhone = TestData.Mobile() });
        var bytes = Encoding.UTF8.GetBytes(json);
        var at = json.IndexOf("XX", StringComparison.Ordinal);
        bytes[at] = 0xC3; bytes[at + 1] = 0x28;
        using var response = await app.Client.SendAsync(SignedBytes(channel, bytes));
        await ProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Theory]
    [InlineData("crm")]
    [InlineData("erp")]
    public async Task A_NUL_in_a_signed_record_is_422_naming_the_field(string channel)
    {
        var json = Payloads.Crm("lead", new { LastName = "王\u0000", MobilePhone = TestData.Mobile() });
        Assert.Contains("\\u0000", json, StringComparison.Ordinal);
        using var response = await app.Client.SendAsync(CdpApp.Signed(channel, json));
        var problem = await ProblemAsync(response, HttpStatusCode.UnprocessableEntity);
        Assert.True(problem.GetProperty("errors").TryGetProperty("fields.LastName", out _), problem.ToString());
    }

    [Fact]
    public async Task A_NUL_in_a_command_body_is_422_naming_the_field()
    {
        using var response = await app.Client.PostAsync($"/api/contacts/{Guid.NewGuid()}/follow-ups",
            new StringContent("{\"content\":\"a\\u0000\",\"channel\":\"call\"}", Encoding.UTF8, "application/json"));
        var problem = await ProblemAsync(response, HttpStatusCode.UnprocessableEntity);
        Assert.True(problem.GetProperty("errors").TryGetProperty("content", out _), problem.ToString());
    }

    [Theory]
    [InlineData("/api/leads/{0}/convert", "{\"opportunity\":{\"name\":\"x\",\"amount\":1e309}}", "opportunity.amount")]
    [InlineData("/api/contacts/{0}/follow-ups", "{\"content\":\"x\",\"channel\":\"call\",\"occurredAt\":\"9999-12-31T23:59:59-01:00\"}", "occurredAt")]
    public async Task A_number_or_date_out_of_range_is_422_naming_the_field(string path, string json, string field)
    {
        using var response = await app.Client.PostAsync(string.Format(System.Globalization.CultureInfo.InvariantCulture, path, Guid.NewGuid()),
            new StringContent(json, Encoding.UTF8, "application/json"));
        var problem = await ProblemAsync(response, HttpStatusCode.UnprocessableEntity);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Theory]
    [InlineData("crm", "modifiedAt")]
    [InlineData("wechat", "submittedAt")]
    public async Task A_time_more_than_five_minutes_ahead_is_422_and_9999_is_never_processed(string channel, string field)
    {
        foreach (var at in new[] { DateTimeOffset.UtcNow.AddMinutes(10), new DateTimeOffset(9999, 12, 31, 0, 0, 0, TimeSpan.Zero) })
        {
            var json = channel == "crm"
                ? Payloads.Crm("lead", new { LastName = "未来", MobilePhone = TestData.Mobile() }, modifiedAt: at)
                : Payloads.WeChatForm("o-" + Guid.NewGuid().ToString("N"), TestData.Mobile(), submittedAt: at);
            using var response = await app.Client.SendAsync(CdpApp.Signed(channel, json));
            var problem = await ProblemAsync(response, HttpStatusCode.UnprocessableEntity);
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
        }
        // Within the allowed skew a record is still taken.
        var soon = channel == "crm"
            ? Payloads.Crm("lead", new { LastName = "稍快", MobilePhone = TestData.Mobile() }, modifiedAt: DateTimeOffset.UtcNow.AddMinutes(2))
            : Payloads.WeChatForm("o-" + Guid.NewGuid().ToString("N"), TestData.Mobile());
        await CdpApp.IngestAsync(app.Client, channel, soon);
    }
}
