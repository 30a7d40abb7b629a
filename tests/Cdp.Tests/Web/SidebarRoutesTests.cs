using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Cdp.Shared.Access;
using Cdp.Tests.Support;
using Dapper;

namespace Cdp.Tests.Web;

/// <summary>What the sidebar reads besides the contact: its pushes (and a retry of a failed one) and the corp tags.</summary>
public sealed class SidebarRoutesTests(CdpApp app) : IClassFixture<CdpApp>
{
    [Fact]
    public async Task A_salesperson_sees_the_pushes_of_their_contact_and_retries_a_failed_one_without_sync_manage()
    {
        var follower = TestData.Id("sales");
        var (contactId, external) = await app.NewContactAsync();
        await CustomerOwnerRows.AddAsync(app, contactId, follower, "wecom_follow", external!);
        app.WeCom.AddContact(external!, "张三", "华瑞科技", follower);   // WeCom agrees: the push acts as the follower
        using var sales = await StaffSession.SignInAsync(app, follower, [Roles.Sales]);

        using var saved = await sales.PutAsJsonAsync($"/api/contacts/{contactId}/tags", new { tags = new[] { "侧边栏" } });
        Assert.Equal(HttpStatusCode.Accepted, saved.StatusCode);
        var taskId = (await saved.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("syncTaskId").GetGuid();

        var tasks = await sales.GetFromJsonAsync<List<JsonElement>>($"/api/contacts/{contactId}/sync-tasks");
        var task = Assert.Single(tasks!);
        Assert.Equal((taskId, "wecom_tags"), (task.GetProperty("id").GetGuid(), task.GetProperty("target").GetString()));
        using (var general = await sales.GetAsync($"/api/sync-tasks/{taskId}"))
            Assert.Equal(HttpStatusCode.Forbidden, general.StatusCode);   // the console's list stays sync:manage

        await Eventually.Until(async () => (await StatusAsync(taskId)) is "succeeded" or "failed", TimeSpan.FromSeconds(60), "the push finished");
        using (var notFailed = await sales.PostAsync($"/api/contacts/{contactId}/sync-tasks/{taskId}/retry", null))
            Assert.Equal(HttpStatusCode.Conflict, notFailed.StatusCode);
        await using (var conn = await app.Database.DataSource.OpenConnectionAsync())
            await conn.ExecuteAsync("update sync_task set status = 'failed', last_error = 'cued' where sync_task_id = @taskId", new { taskId });

        using var retried = await sales.PostAsync($"/api/contacts/{contactId}/sync-tasks/{taskId}/retry", null);
        Assert.Equal(HttpStatusCode.Accepted, retried.StatusCode);
        Assert.Contains(await AuditTrail.OfAsync(app, taskId, "sync_task.retry"), r => r.Actor == Authenticate.StaffPrefix + follower);

        // Another contact's task through this contact's path, and a contact the salesperson does not see: 404.
        var (otherContact, _) = await app.NewContactAsync();
        using (var wrongPath = await sales.PostAsync($"/api/contacts/{otherContact}/sync-tasks/{taskId}/retry", null))
            Assert.Equal(HttpStatusCode.NotFound, wrongPath.StatusCode);
        using (var notMine = await sales.GetAsync($"/api/contacts/{otherContact}/sync-tasks"))
            Assert.Equal(HttpStatusCode.NotFound, notMine.StatusCode);
    }

    [Fact]
    public async Task The_corp_tag_groups_come_from_WeCom_for_a_caller_with_customers_read()
    {
        using var sales = await StaffSession.SignInAsync(app, TestData.Id("sales"), [Roles.Sales]);
        var groups = await sales.GetFromJsonAsync<List<JsonElement>>("/api/wecom/corp-tags");

        var industry = Assert.Single(groups!, g => g.GetProperty("groupName").GetString() == "行业");
        Assert.Contains(industry.GetProperty("tags").EnumerateArray(), t => t.GetProperty("name").GetString() == "制造业" && t.GetProperty("id").GetString() == "et-manufacturing");
        // The next sidebar opens within a minute read the kept list: WeCom was asked once.
        var fetched = app.WeCom.Calls(WeComStandIn.CorpTagListPath);
        for (var i = 0; i < 3; i++) Assert.Single(await sales.GetFromJsonAsync<List<JsonElement>>("/api/wecom/corp-tags") ?? [], g => g.GetProperty("groupName").GetString() == "行业");
        Assert.Equal(fetched, app.WeCom.Calls(WeComStandIn.CorpTagListPath));

        using var other = await ApiKeyCaller.CreateAsync(app, Permissions.AuditRead);
        using var refused = await other.Client.GetAsync("/api/wecom/corp-tags");
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
    }

    async Task<string> StatusAsync(Guid taskId)
    {
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        return await conn.QuerySingleAsync<string>("select status from sync_task where sync_task_id = @taskId", new { taskId });
    }
}
