using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Cdp.Shared;
using Cdp.Shared.Sync;

namespace Cdp.Tests.Sync;

/// <summary>The sidebar and sync-task routes' input rules and answers.</summary>
public sealed class SyncApiTests(SyncApp app) : IClassFixture<SyncApp>
{
    [Fact]
    public async Task Tags_of_an_unknown_contact_are_404_problem()
    {
        using var response = await app.Client.PutAsJsonAsync($"/api/contacts/{Guid.NewGuid()}/tags", new { tags = new[] { "VIP" } });
        await AssertProblem(response, HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData("""{"tags":["ok","  "]}""")]
    [InlineData("""{"tags":["一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十超"]}""")]
    [InlineData("""{"tags":null}""")]
    [InlineData("""{}""")]
    public async Task Bad_tags_are_422_problem_and_nothing_is_saved(string json)
    {
        var (contact, _) = await app.NewContactAsync();
        using var response = await app.Client.PutAsync($"/api/contacts/{contact}/tags", new StringContent(json, Encoding.UTF8, "application/json"));
        var problem = await AssertProblem(response, HttpStatusCode.UnprocessableEntity);
        Assert.True(problem.GetProperty("errors").TryGetProperty("tags", out _));
        await using var cmd = app.Database.DataSource.CreateCommand("select count(*) from sync_task where entity_id = $1");
        cmd.Parameters.Add(new() { Value = contact });
        Assert.Equal(0L, await cmd.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Malformed_json_is_400_problem()
    {
        var (contact, _) = await app.NewContactAsync();
        using var response = await app.Client.PutAsync($"/api/contacts/{contact}/tags", new StringContent("{\"tags\":[", Encoding.UTF8, "application/json"));
        await AssertProblem(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task A_follow_up_without_content_is_422_and_for_an_unknown_contact_404()
    {
        var (contact, _) = await app.NewContactAsync();
        using var empty = await app.Client.PostAsJsonAsync($"/api/contacts/{contact}/follow-ups", new { content = " ", channel = "phone" });
        await AssertProblem(empty, HttpStatusCode.UnprocessableEntity);
        using var unknown = await app.Client.PostAsJsonAsync($"/api/contacts/{Guid.NewGuid()}/follow-ups", new { content = "拜访" });
        await AssertProblem(unknown, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Tasks_list_by_status_and_show_their_detail()
    {
        var (contact, _) = await app.NewContactAsync(withWeCom: false);
        var taskId = await app.PutTagsAsync(contact, "A");

        var succeeded = await app.Client.GetFromJsonAsync<List<SyncTaskView>>("/api/sync-tasks?status=succeeded", CdpJson.Options);
        Assert.Contains(succeeded!, t => t.Id == taskId);
        var pending = await app.Client.GetFromJsonAsync<List<SyncTaskView>>("/api/sync-tasks?status=pending", CdpJson.Options);
        Assert.DoesNotContain(pending!, t => t.Id == taskId);

        var detail = await app.Client.GetFromJsonAsync<JsonElement>($"/api/sync-tasks/{taskId}");
        foreach (var field in new[] { "target", "entityType", "entityId", "attempts", "lastError", "status", "createdAt", "updatedAt", "nextAttemptAt", "completedAt", "note" })
            Assert.True(detail.TryGetProperty(field, out _), field);
        Assert.Equal(contact, detail.GetProperty("entityId").GetGuid());
    }

    [Fact]
    public async Task Unknown_status_is_422_and_unknown_task_404()
    {
        using var status = await app.Client.GetAsync("/api/sync-tasks?status=stuck");
        await AssertProblem(status, HttpStatusCode.UnprocessableEntity);
        using var unknown = await app.Client.GetAsync($"/api/sync-tasks/{Guid.NewGuid()}");
        await AssertProblem(unknown, HttpStatusCode.NotFound);
        using var retry = await app.Client.PostAsync($"/api/sync-tasks/{Guid.NewGuid()}/retry", null);
        await AssertProblem(retry, HttpStatusCode.NotFound);
    }

    static async Task<JsonElement> AssertProblem(HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }
}
