using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cdp.Shared.Channels.WeCom;
using Cdp.Tests.Support;
using Cdp.Tests.AzureHost;
using Cdp.Tests.Conversion;
using Microsoft.DurableTask.Testing;

namespace Cdp.Tests.Hosting;

/// <summary>Both hosts over one backend: the local host in-process and the Azure host's functions (<see cref="AzureFunctionsHost"/>).</summary>
public class HostPair : CdpApp
{
    readonly CancellationTokenSource stopping = new();

    public AzureFunctionsHost Azure { get; private set; } = null!;

    /// <summary>The real Durable worker running the Azure host's orchestrator and activity functions on this backend.</summary>
    public DurableTaskTestHost Durable { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Azure = AzureFunctionsHost.Create(Settings.Concat(ExtraSettings));
        (_, Durable) = await AzureHostApp.StartDurableAsync(Azure.Services, stopping.Token);
    }

    public override async Task DisposeAsync()
    {
        await stopping.CancelAsync();
        await Durable.DisposeAsync();
        await Azure.DisposeAsync();
        stopping.Dispose();
        await base.DisposeAsync();
    }

    /// <summary>The same request to each host (built twice: a request message is sent once).</summary>
    public async Task<(HttpResponseMessage Local, HttpResponseMessage Azure)> SendBothAsync(Func<HttpRequestMessage> request) =>
        (await Client.SendAsync(request()), await Azure.SendAsync(AsAdmin(request()), Durable.Client));

    /// <summary>The bootstrap admin's key, as <see cref="CdpApp.Client"/> sends it, unless the request names its own caller.</summary>
    public static HttpRequestMessage AsAdmin(HttpRequestMessage request)
    {
        request.Headers.Authorization ??= new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", AdminKey);
        return request;
    }

    /// <summary>
    /// Status, the headers a caller acts on (media type, Location, the WeCom ingestion id's presence) and the body must
    /// be the same; a JSON body is compared as a document, without the per-request traceId.
    /// </summary>
    public static async Task AssertSameAsync(HttpResponseMessage local, HttpResponseMessage azure, bool maskIds = false)
    {
        var (localBody, azureBody) = (await local.Content.ReadAsStringAsync(), await azure.Content.ReadAsStringAsync());
        var context = $"\nlocal {(int)local.StatusCode}: {localBody}\nazure {(int)azure.StatusCode}: {azureBody}";
        Assert.True(local.StatusCode == azure.StatusCode, "Statuses differ" + context);
        Assert.True(local.Content.Headers.ContentType?.MediaType == azure.Content.Headers.ContentType?.MediaType, "Media types differ" + context);
        Assert.True(Masked(local.Headers.Location?.ToString(), maskIds) == Masked(azure.Headers.Location?.ToString(), maskIds),
            $"Locations differ: {local.Headers.Location} / {azure.Headers.Location}");
        Assert.Equal(local.Headers.Contains(Cdp.Shared.Api.HttpRules.IngestionIdHeader), azure.Headers.Contains(Cdp.Shared.Api.HttpRules.IngestionIdHeader));
        if (local.Content.Headers.ContentType?.MediaType?.EndsWith("json", StringComparison.Ordinal) == true)
            Assert.True(Masked(Normalised(localBody), maskIds) == Masked(Normalised(azureBody), maskIds), "Bodies differ" + context);
        else
            Assert.True(localBody == azureBody, "Bodies differ" + context);
    }

    /// <summary>Two hosts acting on two records of the same kind answer with different ids and nothing else different.</summary>
    static string? Masked(string? text, bool maskIds) =>
        maskIds && text is not null ? System.Text.RegularExpressions.Regex.Replace(text, "[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}", "<id>") : text;

    static string Normalised(string json)
    {
        var node = JsonNode.Parse(json);
        (node as JsonObject)?.Remove("traceId");
        return node?.ToJsonString() ?? "null";
    }
}

/// <summary>
/// One HTTP surface: the same request to the local host and to the Azure host's function gives the same status, the
/// same headers that matter and the same body — for ingestion (signed, unsigned, WeCom), the views, and an error of
/// every kind the routes give.
/// </summary>
public sealed class HttpParityTests(HostPair hosts) : IClassFixture<HostPair>
{
    [Fact]
    public async Task A_signed_push_is_accepted_by_both_and_each_host_answers_the_others_resend_as_its_duplicate()
    {
        var first = Payloads.Crm("lead", new { LastName = "周", MobilePhone = TestData.Mobile() });
        var second = Payloads.Crm("lead", new { LastName = "吴", MobilePhone = TestData.Mobile() });

        var localAccepted = await Accepted(await hosts.Client.SendAsync(CdpApp.Signed("crm", first)));
        var azureAccepted = await Accepted(await hosts.Azure.SendAsync(CdpApp.Signed("crm", second)));
        Assert.False(localAccepted.GetProperty("duplicate").GetBoolean());
        Assert.False(azureAccepted.GetProperty("duplicate").GetBoolean());

        // Each resend goes to the other host: same document as the first host would give for its own resend.
        var (localResend, azureResend) = (await hosts.Client.SendAsync(CdpApp.Signed("crm", second)), await hosts.Azure.SendAsync(CdpApp.Signed("crm", first)));
        Assert.Equal(azureAccepted.GetProperty("ingestionId").GetGuid(), (await Accepted(localResend)).GetProperty("ingestionId").GetGuid());
        Assert.Equal(localAccepted.GetProperty("ingestionId").GetGuid(), (await Accepted(azureResend)).GetProperty("ingestionId").GetGuid());
        var (again1, again2) = await hosts.SendBothAsync(() => CdpApp.Signed("crm", first));
        await HostPair.AssertSameAsync(again1, again2);
    }

    [Fact]
    public async Task The_alert_history_and_its_refusals_answer_alike()
    {
        await Same(() => new HttpRequestMessage(HttpMethod.Get, "/api/ops/alerts?state=open"));
        await Same(() => new HttpRequestMessage(HttpMethod.Get, "/api/ops/alerts?state=maybe"));
        var (local, azure) = await hosts.SendBothAsync(() => new HttpRequestMessage(HttpMethod.Get, "/api/ops/overview"));
        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (local.StatusCode, azure.StatusCode));
    }

    [Fact]
    public async Task Unsigned_wrongly_signed_and_stale_pushes_get_the_same_401()
    {
        var json = Payloads.Crm("lead", new { LastName = "郑", MobilePhone = TestData.Mobile() });
        await Same(() => new HttpRequestMessage(HttpMethod.Post, "/api/ingest/crm") { Content = new StringContent(json, Encoding.UTF8, "application/json") });
        await Same(() => CdpApp.Signed("crm", json, secret: "not-the-secret"));
        await Same(() => CdpApp.Signed("crm", json, at: DateTimeOffset.UtcNow.AddMinutes(-30)));
    }

    [Fact]
    public async Task WeCom_url_verification_and_a_bad_WeCom_signature_answer_alike()
    {
        var encrypted = hosts.WeComCrypto.Encrypt("1616140317555161061");
        var signature = hosts.WeComCrypto.Sign("1700000000", "n0nce", encrypted);
        await Same(() => new HttpRequestMessage(HttpMethod.Get,
            $"/api/ingest/wecom?msg_signature={signature}&timestamp=1700000000&nonce=n0nce&echostr={Uri.EscapeDataString(encrypted)}"));
        await Same(() => new HttpRequestMessage(HttpMethod.Get,
            $"/api/ingest/wecom?msg_signature=deadbeef&timestamp=1700000000&nonce=n0nce&echostr={Uri.EscapeDataString(encrypted)}"));
    }

    [Fact]
    public async Task A_WeCom_callback_answers_success_with_the_ingestion_id_header_on_both()
    {
        foreach (var send in new Func<HttpRequestMessage, Task<HttpResponseMessage>>[] { hosts.Client.SendAsync, r => hosts.Azure.SendAsync(r, hosts.Durable.Client) })
        {
            var callback = WeComCallbacks.Build(hosts.WeComCrypto, WeComStandIn.DefaultCorpId,
                WeComCallbacks.ChangeExternalContactXml(WeComStandIn.DefaultCorpId, "add_external_contact", CdpBackend.SalesUserId, TestData.Id("wm")));
            using var response = await send(new HttpRequestMessage(HttpMethod.Post, "/api/ingest/wecom?" + callback.Query)
            {
                Content = new StringContent(callback.Body, Encoding.UTF8, "text/xml"),
            });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("success", await response.Content.ReadAsStringAsync());
            Assert.True(Guid.TryParse(response.Headers.GetValues(Cdp.Shared.Api.HttpRules.IngestionIdHeader).Single(), out _));
        }
    }

    [Fact]
    public async Task The_ingestion_status_and_the_lead_view_are_the_same_document_on_both()
    {
        var accepted = await Accepted(await hosts.Client.SendAsync(CdpApp.Signed("crm",
            Payloads.Crm("lead", new { LastName = "冯", FirstName = "敏", MobilePhone = TestData.Mobile(), Company = "测试" + TestData.CompanyWord() + "有限公司" }))));
        var status = await CdpApp.SettledAsync(hosts.Client, accepted.GetProperty("ingestionId").GetGuid());
        Assert.Equal("processed", status.Status);

        await Same(() => new HttpRequestMessage(HttpMethod.Get, $"/api/ingestions/{status.IngestionId}"));
        // The pipeline goes on in the background (the lead's summary is computed and its cached view dropped), so the
        // two hosts are compared on the same state: once both answers came from the cache, with nothing changed between.
        await Eventually.Until(async () =>
        {
            var (local, azure) = await hosts.SendBothAsync(() => new HttpRequestMessage(HttpMethod.Get, $"/api/leads/{status.EntityId}"));
            if (!await CachedAsync(local) || !await CachedAsync(azure)) return false;
            await HostPair.AssertSameAsync(local, azure);
            return true;
        }, TimeSpan.FromSeconds(30), "both lead views served from the cache");
    }

    [Fact]
    public async Task The_ingestion_list_is_the_same_page_on_both_and_the_orchestration_list_answers_on_both()
    {
        var sourceId = TestData.Id("parity");
        var (id, _) = await CdpApp.IngestAsync(hosts.Client, "crm", Payloads.Crm("lead", new { LastName = "卫", MobilePhone = TestData.Mobile() }, sourceId));
        await CdpApp.SettledAsync(hosts.Client, id);
        await Same(() => new HttpRequestMessage(HttpMethod.Get, $"/api/ingestions?sourceId={sourceId}&limit=1"));

        // Each host lists its own engine's instances: the same shape, not the same rows.
        var (local, azure) = await hosts.SendBothAsync(() => new HttpRequestMessage(HttpMethod.Get, "/api/orchestrations?limit=5&status=Completed"));
        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (local.StatusCode, azure.StatusCode));
        Assert.Equal(JsonValueKind.Array, JsonDocument.Parse(await azure.Content.ReadAsStringAsync()).RootElement.ValueKind);
    }

    public static TheoryData<string, string, string?, string?, int> Errors => new()
    {
        // method, path, media type, body, the status both must give
        { "GET", $"/api/accounts/{Guid.NewGuid()}", null, null, 404 },
        { "GET", $"/api/contacts/{Guid.NewGuid()}/360", null, null, 404 },
        { "GET", $"/api/ingestions/{Guid.NewGuid()}", null, null, 404 },
        { "GET", $"/api/sync-tasks/{Guid.NewGuid()}", null, null, 404 },
        { "GET", "/api/sync-tasks?limit=abc", null, null, 400 },
        { "GET", "/api/sync-tasks?status=lost", null, null, 422 },
        { "GET", $"/api/contacts/{Guid.NewGuid()}/sync-tasks?limit=abc", null, null, 400 },
        { "GET", "/api/identity/reviews?status=maybe", null, null, 422 },
        { "GET", "/api/search?q=", null, null, 400 },
        { "GET", "/api/ingest/crm", null, null, 405 },
        { "POST", "/api/ingest/fax", "application/json", "{}", 404 },
        { "POST", "/api/events", "text/plain", "hello", 415 },
        { "POST", "/api/events", "application/json", "{\"events\": [", 400 },
        { "POST", "/api/events", "application/json", new string(' ', 3 * 1024 * 1024), 413 },
        { "POST", $"/api/identity/reviews/{Guid.NewGuid()}/resolve", "application/json", "{\"decision\":\"perhaps\"}", 422 },
        { "POST", $"/api/identity/reviews/{Guid.NewGuid()}/resolve", "application/json", "{\"decision\":\"create\"}", 404 },
        { "POST", $"/api/identity/reviews/{Guid.NewGuid()}/resolve", "text/plain", "create", 415 },
        { "PUT", $"/api/contacts/{Guid.NewGuid()}/tags", "application/json", "{\"tags\": [1,", 400 },
        { "PUT", $"/api/contacts/{Guid.NewGuid()}/tags", "application/json", "null", 400 },
        { "POST", $"/api/contacts/{Guid.NewGuid()}/follow-ups", "application/json", "{\"content\":\"\"}", 422 },
        { "POST", $"/api/leads/{Guid.NewGuid()}/convert", "application/json", "{\"opportunity\":", 400 },
        { "POST", $"/api/leads/{Guid.NewGuid()}/convert", "application/json", "{\"opportunity\":{\"name\":\"x\",\"amount\":1e309}}", 422 },
        { "POST", $"/api/contacts/{Guid.NewGuid()}/follow-ups", "application/json", "{\"content\":\"a\\u0000\"}", 422 },
        { "POST", "/api/events", "application/json", "{\"events\":[{\"type\":\"x\\u0000\"}]}", 422 },
        { "POST", "/api/pii/reveal", "application/json", $"{{\"entityType\":\"contact\",\"entityId\":\"{Guid.NewGuid()}\",\"field\":\"email\"}}", 404 },
        { "POST", "/api/pii/reveal", "application/json", "{\"entityType\":\"contact\",\"entityId\":\"x\",\"field\":\"name\"}", 422 },
        { "GET", "/api/ingestions?status=lost", null, null, 422 },
        { "GET", "/api/ingestions?cursor=eA", null, null, 422 },
        { "GET", "/api/orchestrations?status=Sleeping", null, null, 422 },
        { "GET", "/api/audit?limit=0", null, null, 422 },
        { "GET", "/api/contacts/by-external/wm-nobody", null, null, 404 },
        { "POST", "/api/imports?channel=fax", "application/x-ndjson", "{}", 422 },
        { "POST", "/api/imports?channel=crm", "text/plain", "{}", 415 },
        { "POST", "/api/imports?channel=crm", "text/csv", "LastName\n王\n", 400 },
        { "GET", $"/api/imports/{Guid.NewGuid()}", null, null, 404 },
        { "GET", "/api/wecom/jssdk-config?url=ftp%3A%2F%2Flocalhost%2F", null, null, 422 },
    };

    [Theory]
    [MemberData(nameof(Errors))]
    public async Task Every_kind_of_refusal_is_the_same_problem_on_both(string method, string path, string? mediaType, string? body, int status)
    {
        var (local, azure) = await hosts.SendBothAsync(() => Request(method, path, mediaType, body));
        Assert.Equal(status, (int)local.StatusCode);
        Assert.Equal("application/problem+json", local.Content.Headers.ContentType?.MediaType);
        await HostPair.AssertSameAsync(local, azure);
        using var problem = JsonDocument.Parse(await azure.Content.ReadAsStringAsync());
        Assert.Equal($"https://httpwg.org/specs/rfc9110.html#status.{status}", problem.RootElement.GetProperty("type").GetString());
        Assert.False(string.IsNullOrEmpty(problem.RootElement.GetProperty("traceId").GetString()));
    }

    [Fact]
    public async Task A_conversion_answers_alike_and_each_host_refuses_to_convert_the_others_lead_again()
    {
        var db = hosts.Database.DataSource;
        var leadA = await ConversionData.InsertLeadAsync(db, TestData.Mobile(), null, ConversionData.Company());
        var leadB = await ConversionData.InsertLeadAsync(db, TestData.Mobile(), null, ConversionData.Company());
        var body = """{"opportunity":{"name":"首单","amount":12000,"stage":"qualification"}}""";

        // A on the local engine, B through the Azure function on the Durable worker: both finish within the wait.
        var (local, azure) = (await hosts.Client.SendAsync(Request("POST", $"/api/leads/{leadA}/convert", "application/json", body)),
            await hosts.Azure.SendAsync(HostPair.AsAdmin(Request("POST", $"/api/leads/{leadB}/convert", "application/json", body)), hosts.Durable.Client));
        Assert.True(local.StatusCode == HttpStatusCode.OK, await local.Content.ReadAsStringAsync());
        await HostPair.AssertSameAsync(local, azure, maskIds: true);

        // Converting again, each on the other host: 409 naming the earlier contact and account.
        var (localAgain, azureAgain) = (await hosts.Client.SendAsync(Request("POST", $"/api/leads/{leadB}/convert", "application/json", body)),
            await hosts.Azure.SendAsync(HostPair.AsAdmin(Request("POST", $"/api/leads/{leadA}/convert", "application/json", body)), hosts.Durable.Client));
        Assert.Equal(HttpStatusCode.Conflict, localAgain.StatusCode);
        await HostPair.AssertSameAsync(localAgain, azureAgain, maskIds: true);
    }

    [Fact]
    public async Task Saving_tags_answers_202_with_the_sync_task_alike()
    {
        var (a, b) = (await hosts.NewContactAsync(), await hosts.NewContactAsync());
        const string tags = """{"tags":["重点客户","华东"]}""";
        var (local, azure) = (await hosts.Client.SendAsync(Request("PUT", $"/api/contacts/{a.Id}/tags", "application/json", tags)),
            await hosts.Azure.SendAsync(HostPair.AsAdmin(Request("PUT", $"/api/contacts/{b.Id}/tags", "application/json", tags)), hosts.Durable.Client));
        Assert.Equal(HttpStatusCode.Accepted, local.StatusCode);
        await HostPair.AssertSameAsync(local, azure, maskIds: true);
    }

    [Fact]
    public async Task An_unknown_orchestration_is_404_alike_and_a_started_recalculation_points_at_the_products_own_status_route()
    {
        var unknown = $"nope-{Guid.NewGuid():N}";
        await Same(() => new HttpRequestMessage(HttpMethod.Get, $"/api/orchestrations/{unknown}"));

        using var started = await hosts.Azure.SendAsync(HostPair.AsAdmin(new HttpRequestMessage(HttpMethod.Post, "/api/admin/summaries/recalculate")), hosts.Durable.Client);
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        var check = JsonDocument.Parse(await started.Content.ReadAsStringAsync()).RootElement;
        var statusUri = new Uri(check.GetProperty("statusQueryGetUri").GetString()!);
        Assert.Equal("/api/orchestrations/" + check.GetProperty("id").GetString(), statusUri.AbsolutePath);
        Assert.DoesNotContain("runtime/webhooks", await started.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(statusUri, started.Headers.Location);

        using var status = await hosts.Azure.SendAsync(HostPair.AsAdmin(new HttpRequestMessage(HttpMethod.Get, statusUri.PathAndQuery)), hosts.Durable.Client);
        Assert.Equal(HttpStatusCode.OK, status.StatusCode);
        Assert.Equal("RecalculateAllSummariesOrchestrator", JsonDocument.Parse(await status.Content.ReadAsStringAsync()).RootElement.GetProperty("name").GetString());
    }

    [Fact]
    public async Task The_comparer_notices_a_different_status_body_or_location()
    {
        static HttpResponseMessage Answer(HttpStatusCode status, string json, string? location = null)
        {
            var response = new HttpResponseMessage(status) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
            if (location is not null) response.Headers.Location = new Uri(location, UriKind.RelativeOrAbsolute);
            return response;
        }

        await HostPair.AssertSameAsync(Answer(HttpStatusCode.OK, """{"a":1,"traceId":"x"}"""), Answer(HttpStatusCode.OK, """{"a":1,"traceId":"y"}"""));
        await Assert.ThrowsAnyAsync<Exception>(() => HostPair.AssertSameAsync(Answer(HttpStatusCode.OK, """{"a":1}"""), Answer(HttpStatusCode.OK, """{"a":2}""")));
        await Assert.ThrowsAnyAsync<Exception>(() => HostPair.AssertSameAsync(Answer(HttpStatusCode.OK, "{}"), Answer(HttpStatusCode.Accepted, "{}")));
        await Assert.ThrowsAnyAsync<Exception>(() => HostPair.AssertSameAsync(Answer(HttpStatusCode.Accepted, "{}", "/a"), Answer(HttpStatusCode.Accepted, "{}", "/b")));
    }

    static HttpRequestMessage Request(string method, string path, string? mediaType, string? body) =>
        new(new HttpMethod(method), path) { Content = body is null ? null : new StringContent(body, Encoding.UTF8, mediaType!) };

    async Task Same(Func<HttpRequestMessage> request)
    {
        var (local, azure) = await hosts.SendBothAsync(request);
        await HostPair.AssertSameAsync(local, azure);
    }

    static async Task<bool> CachedAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("cached").GetBoolean();

    static async Task<JsonElement> Accepted(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }
}
