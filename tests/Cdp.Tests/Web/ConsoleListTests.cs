using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Cdp.Shared;
using Cdp.Shared.Access;
using Cdp.Shared.Api;
using Cdp.Shared.Ingestion;
using Cdp.Tests.Support;
using Dapper;

namespace Cdp.Tests.Web;

/// <summary>
/// The console's lists (GET /api/ingestions, /api/orchestrations, /api/audit): filters, newest first, pages joined by
/// the X-Cdp-Next-Cursor header with neither gaps nor repeats, 422 for a bad filter or cursor, 403 without the permission.
/// </summary>
public sealed class ConsoleListTests(CdpApp app) : IClassFixture<CdpApp>
{
    [Fact]
    public async Task Ingestions_filter_by_channel_status_source_id_and_time_and_page_newest_first()
    {
        var from = DateTimeOffset.UtcNow.AddSeconds(-1);
        var sourceIds = Enumerable.Range(0, 3).Select(_ => TestData.Id("src")).ToList();
        var ids = new List<Guid>();
        foreach (var sourceId in sourceIds)
        {
            var (id, _) = await CdpApp.IngestAsync(app.Client, ChannelNames.Crm,
                Payloads.Crm("lead", new { LastName = "列表", FirstName = "测试", MobilePhone = TestData.Mobile() }, sourceId));
            ids.Add(id);
        }
        foreach (var id in ids) Assert.Equal("processed", (await CdpApp.SettledAsync(app.Client, id, TimeSpan.FromSeconds(60))).Status);
        var window = $"channel=crm&status=processed&from={Uri.EscapeDataString(from.ToString("O"))}&to={Uri.EscapeDataString(DateTimeOffset.UtcNow.AddSeconds(1).ToString("O"))}";

        var pages = await AllPagesAsync<IngestionStatus>(app.Client, "/api/ingestions?" + window, limit: 2);

        var listed = pages.SelectMany(p => p).Where(i => ids.Contains(i.IngestionId)).ToList();
        Assert.Equal(ids.AsEnumerable().Reverse(), listed.Select(i => i.IngestionId));   // newest first
        Assert.True(pages.Count >= 2 && pages[0].Count == 2, "two rows, then a cursor to the rest");
        Assert.All(pages.SelectMany(p => p), i => Assert.Equal(("crm", "processed"), (i.Channel, i.Status)));
        Assert.Equal(pages.SelectMany(p => p).Count(), pages.SelectMany(p => p).Select(i => i.IngestionId).Distinct().Count());

        var bySource = await app.Client.GetFromJsonAsync<List<IngestionStatus>>($"/api/ingestions?sourceId={sourceIds[1]}", CdpJson.Options);
        Assert.Equal((ids[1], sourceIds[1], "lead"), (Assert.Single(bySource!).IngestionId, bySource![0].SourceId, bySource[0].EntityType));
        var before = await app.Client.GetFromJsonAsync<List<IngestionStatus>>(
            $"/api/ingestions?sourceId={sourceIds[1]}&to={Uri.EscapeDataString(from.ToString("O"))}", CdpJson.Options);
        Assert.Empty(before!);
        var wechat = await app.Client.GetFromJsonAsync<List<IngestionStatus>>($"/api/ingestions?channel=wechat&sourceId={sourceIds[1]}", CdpJson.Options);
        Assert.Empty(wechat!);
    }

    [Fact]
    public async Task Orchestrations_filter_by_status_name_and_creation_time_and_page_newest_first()
    {
        var name = "ListProbe" + Guid.NewGuid().ToString("N")[..8];
        var t0 = DateTimeOffset.UtcNow.AddHours(-3);
        var rows = new[] { ("a", "Completed", 0), ("b", "Failed", 1), ("c", "Running", 2), ("d", "Completed", 3) }
            .Select(r => (Id: $"{name}-{r.Item1}", Status: r.Item2, At: t0.AddMinutes(r.Item3))).ToList();
        await using (var conn = await app.Database.DataSource.OpenConnectionAsync())
        {
            foreach (var r in rows)
                await conn.ExecuteAsync("""
                    insert into orchestration_instance (instance_id, name, status, created_at, updated_at) values (@Id, @name, @Status, @At, @At)
                    """, new { r.Id, name, r.Status, At = r.At.UtcDateTime });
        }

        var pages = await AllPagesAsync<JsonElement>(app.Client, $"/api/orchestrations?name={name}", limit: 3);
        Assert.Equal([3, 1], pages.Select(p => p.Count));
        Assert.Equal(rows.Select(r => r.Id).Reverse(), pages.SelectMany(p => p).Select(o => o.GetProperty("instanceId").GetString()));
        var first = pages[0][0];
        Assert.Equal((name, "Completed"), (first.GetProperty("name").GetString(), first.GetProperty("runtimeStatus").GetString()));
        Assert.False(first.TryGetProperty("input", out _));

        var completed = await app.Client.GetFromJsonAsync<List<JsonElement>>($"/api/orchestrations?name={name}&status=completed");
        Assert.Equal([$"{name}-d", $"{name}-a"], completed!.Select(o => o.GetProperty("instanceId").GetString()));
        var window = await app.Client.GetFromJsonAsync<List<JsonElement>>(
            $"/api/orchestrations?name={name}&createdFrom={Uri.EscapeDataString(t0.AddMinutes(1).ToString("O"))}&createdTo={Uri.EscapeDataString(t0.AddMinutes(3).ToString("O"))}");
        Assert.Equal([$"{name}-c", $"{name}-b"], window!.Select(o => o.GetProperty("instanceId").GetString()));
    }

    [Fact]
    public async Task The_audit_trail_pages_newest_first_with_its_filters()
    {
        var userId = TestData.Id("paged");
        foreach (var roles in new[] { new[] { Roles.Sales }, [Roles.Steward], [Roles.Auditor] })
        {
            using var put = await app.Client.PutAsJsonAsync($"/api/admin/staff/{userId}", new { roles });
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        var pages = await AllPagesAsync<AuditRecord>(app.Client, $"/api/audit?entityId={userId}&action=staff.set", limit: 2);

        Assert.Equal([2, 1], pages.Select(p => p.Count));
        var rows = pages.SelectMany(p => p).ToList();
        Assert.True(rows.Zip(rows.Skip(1)).All(p => p.First.AuditId > p.Second.AuditId), "newest first");
        Assert.Equal([Roles.Auditor, Roles.Steward, Roles.Sales],
            rows.Select(r => r.Detail!.Value.GetProperty("roles")[0].GetString()));
    }

    [Theory]
    [InlineData("/api/ingestions?status=lost", "status")]
    [InlineData("/api/ingestions?channel=fax", "channel")]
    [InlineData("/api/ingestions?from=yesterday", "from")]
    [InlineData("/api/ingestions?limit=0", "limit")]
    [InlineData("/api/ingestions?limit=1001", "limit")]
    [InlineData("/api/ingestions?cursor=not-a-cursor!", "cursor")]
    [InlineData("/api/ingestions?cursor=azF8MXxub3QtYS1ndWlk", "cursor")]   // k1|1|not-a-guid
    [InlineData("/api/orchestrations?status=Sleeping", "status")]
    [InlineData("/api/orchestrations?status=1", "status")]
    [InlineData("/api/orchestrations?createdFrom=soon", "createdFrom")]
    [InlineData("/api/orchestrations?cursor=eA", "cursor")]
    [InlineData("/api/audit?cursor=azF8MXxhYmM", "cursor")]                 // k1|1|abc
    [InlineData("/api/audit?to=never", "to")]
    public async Task A_bad_filter_or_cursor_is_422_naming_it(string path, string field)
    {
        using var response = await app.Client.GetAsync(path);

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.True((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty(field, out _), field);
    }

    [Theory]
    [InlineData("/api/ingestions", Permissions.IngestionsRead)]
    [InlineData("/api/orchestrations", Permissions.OrchestrationsRead)]
    [InlineData("/api/audit", Permissions.AuditRead)]
    [InlineData("/api/admin/staff", Permissions.Admin)]
    [InlineData("/api/admin/api-keys", Permissions.Admin)]
    public async Task Each_list_needs_its_permission(string path, string permission)
    {
        using var holder = await ApiKeyCaller.CreateAsync(app, permission);
        using var other = await ApiKeyCaller.CreateAsync(app, Permissions.CustomersRead);

        using var allowed = await holder.Client.GetAsync(path + "?limit=1");
        using var refused = await other.Client.GetAsync(path + "?limit=1");
        using var anonymous = await app.Anonymous.GetAsync(path);

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.Forbidden, HttpStatusCode.Unauthorized), (allowed.StatusCode, refused.StatusCode, anonymous.StatusCode));
    }

    [Fact]
    public async Task A_salesperson_is_refused_the_console_lists()
    {
        using var sales = await StaffSession.SignInAsync(app, TestData.Id("sales"), [Roles.Sales]);
        foreach (var path in new[] { "/api/ingestions", "/api/orchestrations", "/api/audit", "/api/admin/staff", "/api/admin/api-keys" })
        {
            using var response = await sales.GetAsync(path);
            Assert.True(response.StatusCode == HttpStatusCode.Forbidden, path);
        }
    }

    [Theory]
    [InlineData("/api/ingestions", "sourceId")]
    [InlineData("/api/orchestrations", "createdFrom")]
    [InlineData("/api/audit", "entityId")]
    [InlineData("/api/wecom/jssdk-config", "url")]
    public async Task The_OpenAPI_document_describes_the_console_routes_and_their_query(string path, string parameter)
    {
        using var document = JsonDocument.Parse(await app.Client.GetStringAsync("/api/openapi.json"));
        var get = document.RootElement.GetProperty("paths").GetProperty(path).GetProperty("get");

        Assert.False(string.IsNullOrEmpty(get.GetProperty("summary").GetString()));
        Assert.Contains(get.GetProperty("parameters").EnumerateArray(), p => p.GetProperty("name").GetString() == parameter && p.GetProperty("in").GetString() == "query");
    }

    /// <summary>Every page of a list, following X-Cdp-Next-Cursor from the first.</summary>
    static async Task<List<List<T>>> AllPagesAsync<T>(HttpClient client, string path, int limit)
    {
        var pages = new List<List<T>>();
        string? cursor = null;
        do
        {
            using var response = await client.GetAsync($"{path}&limit={limit}" + (cursor is null ? "" : $"&cursor={Uri.EscapeDataString(cursor)}"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            pages.Add((await response.Content.ReadFromJsonAsync<List<T>>(CdpJson.Options))!);
            cursor = response.Headers.TryGetValues(Paging.NextCursorHeader, out var next) ? next.Single() : null;
            Assert.True(pages.Count < 100, "a cursor that never ends");
        }
        while (cursor is not null);
        return pages;
    }
}
