using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Cdp.Tests.Support;
using Dapper;

namespace Cdp.Tests.Ingestion;

/// <summary>Bad input gets a clear problem with the right status, never a 500, and nothing half-stored.</summary>
public sealed class IngestionRefusalTests(CdpApp app) : IClassFixture<CdpApp>
{
    readonly HttpClient client = app.Client;

    static string ValidLead() => Payloads.Crm("lead", new { LastName = "孙", FirstName = "悟空", MobilePhone = TestData.Mobile() });

    [Theory]
    [InlineData("crm")]
    [InlineData("wechat")]
    [InlineData("erp")]
    public async Task Wrong_signature_is_401(string channel)
    {
        using var response = await client.SendAsync(CdpApp.Signed(channel, ValidLead(), secret: "not-the-secret"));
        await AssertProblem(response, HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Stale_timestamp_is_401_even_with_a_correct_signature()
    {
        using var response = await client.SendAsync(CdpApp.Signed("crm", ValidLead(), at: DateTimeOffset.UtcNow.AddMinutes(-6)));
        var problem = await AssertProblem(response, HttpStatusCode.Unauthorized);
        Assert.Contains("window", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Future_timestamp_beyond_the_window_is_401()
    {
        using var response = await client.SendAsync(CdpApp.Signed("crm", ValidLead(), at: DateTimeOffset.UtcNow.AddMinutes(6)));
        await AssertProblem(response, HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Missing_signature_headers_are_401()
    {
        using var response = await client.PostAsync("/api/ingest/crm", new StringContent(ValidLead(), Encoding.UTF8, "application/json"));
        await AssertProblem(response, HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Body_changed_after_signing_is_401()
    {
        var request = CdpApp.Signed("crm", ValidLead());
        request.Content = new StringContent(ValidLead(), Encoding.UTF8, "application/json");
        using var response = await client.SendAsync(request);
        await AssertProblem(response, HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Malformed_json_is_400()
    {
        using var response = await client.SendAsync(CdpApp.Signed("crm", """{"sourceId":"x","objectType":"lead",""" ));
        await AssertProblem(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Json_that_is_not_an_object_is_400()
    {
        using var response = await client.SendAsync(CdpApp.Signed("crm", "[1,2,3]"));
        await AssertProblem(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Envelope_missing_its_keys_is_422_naming_each_field()
    {
        using var response = await client.SendAsync(CdpApp.Signed("crm", """{"objectType":"opportunity","fields":[]}"""));
        var problem = await AssertProblem(response, (HttpStatusCode)422);
        var errors = problem.GetProperty("errors");
        foreach (var field in new[] { "sourceId", "objectType", "modifiedAt", "fields" })
            Assert.True(errors.TryGetProperty(field, out _), $"errors should name {field}: {errors}");
    }

    [Fact]
    public async Task Oversize_body_is_413()
    {
        var huge = Payloads.Crm("lead", new { LastName = new string('长', 200_000), MobilePhone = TestData.Mobile() });
        using var response = await client.SendAsync(CdpApp.Signed("crm", huge));
        await AssertProblem(response, HttpStatusCode.RequestEntityTooLarge);
    }

    [Fact]
    public async Task Wrong_media_type_is_415()
    {
        var request = CdpApp.Signed("crm", ValidLead());
        request.Content!.Headers.ContentType = new("text/plain");
        using var response = await client.SendAsync(request);
        await AssertProblem(response, HttpStatusCode.UnsupportedMediaType);
    }

    [Fact]
    public async Task Unknown_channel_is_404()
    {
        using var response = await client.PostAsync("/api/ingest/salesforce", new StringContent("{}", Encoding.UTF8, "application/json"));
        await AssertProblem(response, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Get_on_a_signed_json_channel_is_405()
    {
        using var response = await client.GetAsync("/api/ingest/crm");
        await AssertProblem(response, HttpStatusCode.MethodNotAllowed);
    }

    [Fact]
    public async Task Ingestion_id_that_is_not_a_guid_is_404_problem()
    {
        using var response = await client.GetAsync("/api/ingestions/not-a-guid");
        await AssertProblem(response, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Review_resolution_sent_as_text_is_415()
    {
        using var response = await client.PostAsync($"/api/identity/reviews/{Guid.NewGuid()}/resolve", new StringContent("create", Encoding.UTF8, "text/plain"));
        await AssertProblem(response, HttpStatusCode.UnsupportedMediaType);
    }

    [Fact]
    public async Task WeCom_callback_with_a_wrong_msg_signature_is_401_and_stores_nothing()
    {
        var callback = WeComCallbacks.Build(app.WeComCrypto, WeComStandIn.DefaultCorpId,
            WeComCallbacks.ChangeExternalContactXml(WeComStandIn.DefaultCorpId, "add_external_contact", "u1", TestData.Id("wm")));
        var forged = callback with { MsgSignature = new string('0', 40) };

        using var response = await client.PostAsync($"/api/ingest/wecom?{forged.Query}", new StringContent(callback.Body, Encoding.UTF8, "text/xml"));

        await AssertProblem(response, HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task WeCom_echostr_with_a_wrong_signature_is_401()
    {
        var encrypted = app.WeComCrypto.Encrypt("12345");
        using var response = await client.GetAsync($"/api/ingest/wecom?msg_signature=deadbeef&timestamp=1&nonce=2&echostr={Uri.EscapeDataString(encrypted)}");
        await AssertProblem(response, HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task WeCom_body_that_is_not_xml_is_400()
    {
        using var response = await client.PostAsync("/api/ingest/wecom?msg_signature=a&timestamp=1&nonce=2", new StringContent("<xml><Encrypt>", Encoding.UTF8, "text/xml"));
        await AssertProblem(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Resend_of_the_same_body_answers_duplicate_with_the_first_id_and_queues_once()
    {
        var json = ValidLead();
        var first = await CdpApp.IngestAsync(client, "crm", json);
        var again = await CdpApp.IngestAsync(client, "crm", json);

        Assert.Equal((first.Id, false), (first.Id, first.Duplicate));
        Assert.Equal((first.Id, true), again);
    }

    [Fact]
    public async Task Same_source_record_and_version_with_a_different_body_is_a_duplicate()
    {
        var sourceId = TestData.Id("crm");
        var at = DateTimeOffset.UtcNow;
        var mobile = TestData.Mobile();
        var first = await CdpApp.IngestAsync(client, "crm", Payloads.Crm("lead", new { LastName = "唐", MobilePhone = mobile }, sourceId, at));
        var reordered = await CdpApp.IngestAsync(client, "crm", Payloads.Crm("lead", new { MobilePhone = mobile, LastName = "唐" }, sourceId, at));
        var newer = await CdpApp.IngestAsync(client, "crm", Payloads.Crm("lead", new { LastName = "唐", MobilePhone = mobile }, sourceId, at.AddSeconds(1)));

        Assert.Equal((first.Id, true), reordered);
        Assert.NotEqual(first.Id, newer.Id);
        Assert.False(newer.Duplicate);
    }

    [Fact]
    public async Task A_replayed_signed_request_is_not_applied_twice()
    {
        var request = CdpApp.Signed("crm", ValidLead());
        var body = await request.Content!.ReadAsByteArrayAsync();
        using var first = await client.SendAsync(request);
        var replay = new HttpRequestMessage(HttpMethod.Post, "/api/ingest/crm") { Content = new ByteArrayContent(body) { Headers = { { "Content-Type", "application/json" } } } };
        foreach (var h in new[] { "X-Cdp-Timestamp", "X-Cdp-Signature" }) replay.Headers.Add(h, request.Headers.GetValues(h));
        using var second = await client.SendAsync(replay);

        var a = await first.Content.ReadFromJsonAsync<JsonElement>();
        var b = await second.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(a.GetProperty("ingestionId").GetString(), b.GetProperty("ingestionId").GetString());
        Assert.True(b.GetProperty("duplicate").GetBoolean());
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        Assert.Equal(1, await conn.QuerySingleAsync<int>("select count(*)::int from ingestion_receipt where ingestion_id = @id",
            new { id = Guid.Parse(a.GetProperty("ingestionId").GetString()!) }));
    }

    static async Task<JsonElement> AssertProblem(HttpResponseMessage response, HttpStatusCode expected)
    {
        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal((int)expected, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("title").GetString()));
        return problem;
    }
}
