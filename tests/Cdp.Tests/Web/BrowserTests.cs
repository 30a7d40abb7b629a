using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Cdp.Shared;
using Cdp.Shared.Sync;
using Cdp.Tests.Support;
using Dapper;

namespace Cdp.Tests.Web;

/// <summary>
/// The people's surfaces in a real browser (Debian's Chromium through playwright-core) against the local host on a real
/// port, with real Postgres, Redis and ClickHouse and the WeCom stand-in. Every scenario signs in through WeCom's QR
/// login as the stand-in plays it and saves a screenshot (WebHost.Screenshots).
/// </summary>
[Trait("Category", "Browser")]
public sealed class BrowserTests(WebHost web) : IClassFixture<WebHost>
{
    const string MarkTag = WeComStandIn.MarkTagPath;
    const string SalesUserId = CdpBackend.SalesUserId;

    async Task AsStaffAsync(string userId, params string[] roles)
    {
        using var granted = await web.Client.PutAsJsonAsync($"/api/admin/staff/{userId}", new { roles });
        Assert.Equal(HttpStatusCode.OK, granted.StatusCode);
        web.WeCom.SignInAs = userId;
    }

    [Fact]
    public async Task A_steward_signs_in_through_the_WeCom_QR_login_and_sees_the_pages_of_the_role()
    {
        await AsStaffAsync("steward01", "steward");

        var seen = await web.RunAsync("signin", new { userId = "steward01" });

        var menu = seen.GetProperty("menu").EnumerateArray().Select(x => x.GetString()).ToList();
        Assert.Contains("客户搜索", menu);
        Assert.Contains("人工确认", menu);
        Assert.DoesNotContain("员工角色", menu);
        Assert.Empty(seen.GetProperty("errors").EnumerateArray());
    }

    [Fact]
    public async Task The_sidebar_saves_tags_that_sync_after_a_WeCom_failure_and_adds_a_follow_up()
    {
        var (contactId, external) = await web.NewContactAsync();
        await web.FollowAsync(contactId, SalesUserId, external);
        await AsStaffAsync(SalesUserId, "sales");
        web.WeCom.ErrCodeNext(45033, count: 1, path: MarkTag, errMsg: "api concurrent out of limit");

        var seen = await web.RunAsync("sidebar", new { contactId, contactName = "张三", tag = "重点客户", followUp = "电话沟通了报价", expectAttempts = 2 });

        Assert.Contains("已同步", seen.GetProperty("tagsSynced").GetString());
        Assert.Contains("重点客户", web.WeCom.TagNamesOf(external!, SalesUserId, "CDP"));
        await Eventually.Until(() => web.WeCom.DescriptionOf(external!, SalesUserId)?.Contains("电话沟通了报价") == true, TimeSpan.FromSeconds(30), "follow-up pushed");
        Assert.Empty(seen.GetProperty("errors").EnumerateArray());
    }

    [Fact]
    public async Task A_salesperson_calls_from_the_sidebar_through_a_privacy_number_bound_in_the_background()
    {
        var (contactId, external) = await web.NewContactAsync();
        await web.FollowAsync(contactId, "sales03", external);
        var ownMobile = TestData.Mobile();
        using (var granted = await web.Client.PutAsJsonAsync("/api/admin/staff/sales03", new { roles = new[] { "sales" }, mobile = ownMobile }))
            Assert.Equal(HttpStatusCode.OK, granted.StatusCode);
        web.WeCom.SignInAs = "sales03";
        web.Provider.DelayNext(1, TimeSpan.FromSeconds(4));

        var seen = await web.RunAsync("call", new { contactId });

        Assert.Equal("OPERATION", seen.GetProperty("firstState").GetString());
        var subscription = Assert.Single(web.Provider.Subscriptions, s => s.PhoneB == ownMobile);
        Assert.Equal(subscription.SecretNo, seen.GetProperty("virtualNumber").GetString());
        Assert.Single(web.Provider.BindCalls(), c => c.OutId == subscription.OutId);
        Assert.Empty(seen.GetProperty("errors").EnumerateArray());
    }

    [Fact]
    public async Task The_console_finds_an_account_by_a_misspelt_short_name_and_opens_its_360()
    {
        var (ingestion, _) = await CdpApp.IngestAsync(web.Client, "crm", Payloads.Crm("account", new { Company = "深圳市腾讯计算机系统有限公司", City = "深圳", CreditCode = TestData.CreditCode() }));
        var account = await CdpApp.SettledAsync(web.Client, ingestion);
        Assert.Equal("processed", account.Status);
        var found = await web.Client.GetFromJsonAsync<JsonElement>("/api/search?q=" + Uri.EscapeDataString("腾迅计算机系统") + "&type=account");
        var name = found.GetProperty("matches").EnumerateArray().First(m => m.GetProperty("id").GetGuid() == account.EntityId).GetProperty("name").GetString();
        await AsStaffAsync("steward02", "steward");

        var seen = await web.RunAsync("search", new { query = "腾迅计算机系统", expectName = name });

        Assert.EndsWith($"/accounts/{account.EntityId}", seen.GetProperty("url").GetString());
        Assert.Empty(seen.GetProperty("errors").EnumerateArray());
    }

    [Fact]
    public async Task A_steward_merges_a_review_beside_its_candidates_and_the_ingestion_is_processed()
    {
        var city = "测试" + Guid.NewGuid().ToString("N")[..6];
        var word = TestData.CompanyWord();
        var accounts = new List<Guid>();
        foreach (var company in new[] { $"{word}科技有限公司", $"{word}科技发展有限公司" })
        {
            var (id, _) = await CdpApp.IngestAsync(web.Client, "crm", Payloads.Crm("account", new { Company = company, City = city, CreditCode = TestData.CreditCode() }));
            accounts.Add((await CdpApp.SettledAsync(web.Client, id)).EntityId!.Value);
        }
        var (contactIngestion, _) = await CdpApp.IngestAsync(web.Client, "crm",
            Payloads.Crm("contact", new { LastName = "韦", FirstName = "小宝", Company = $"{word}科技", City = city, MobilePhone = TestData.Mobile() }));
        var review = await CdpApp.SettledAsync(web.Client, contactIngestion);
        Assert.Equal("review", review.Status);
        await AsStaffAsync("steward03", "steward");

        var seen = await web.RunAsync("review", new { reviewId = review.ReviewId, targetName = $"{word}科技发展有限公司" });

        Assert.Equal("processed", seen.GetProperty("ingestionStatus").GetString());
        Assert.Contains(city, seen.GetProperty("highlighted").EnumerateArray().Select(x => x.GetString()));
        var settled = await CdpApp.SettledAsync(web.Client, contactIngestion);
        await using var conn = await web.Database.DataSource.OpenConnectionAsync();
        Assert.Equal(accounts[1], await conn.QuerySingleAsync<Guid>("select primary_account_id from contact where contact_id = @id", new { id = settled.EntityId }));
    }

    [Fact]
    public async Task Operations_re_drive_a_failed_sync_from_the_console_and_see_it_succeed()
    {
        var (contactId, external) = await web.NewContactAsync();
        web.WeCom.ErrCodeNext(60011, count: 6, path: MarkTag, errMsg: "no privilege to access/modify contact/party/agent");
        using var saved = await web.Client.PutAsJsonAsync($"/api/contacts/{contactId}/tags", new { tags = new[] { "复购" } });
        var taskId = (await saved.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("syncTaskId").GetGuid();
        await Eventually.Until(async () =>
            (await web.Client.GetFromJsonAsync<SyncTaskView>($"/api/sync-tasks/{taskId}", CdpJson.Options))!.Status == SyncStatus.Failed,
            TimeSpan.FromSeconds(60), "sync task failed");
        await AsStaffAsync("ops01", "ops");

        await web.RunAsync("redrive", new { taskId });

        Assert.Contains("复购", web.WeCom.TagNamesOf(external!, SalesUserId, "CDP"));
    }

    [Fact]
    public async Task Operations_see_the_dashboard_charts_drawn_from_the_platforms_own_data()
    {
        var (ingestion, _) = await CdpApp.IngestAsync(web.Client, "crm", Payloads.Crm("account", new { Company = "上海" + TestData.CompanyWord() + "科技有限公司", City = "上海", CreditCode = TestData.CreditCode() }));
        await CdpApp.SettledAsync(web.Client, ingestion);
        await Eventually.Until(async () => (await web.Client.GetFromJsonAsync<JsonElement>("/api/ops/overview"))
            .GetProperty("series").GetProperty("ingested").EnumerateObject().Any(), TimeSpan.FromSeconds(60), "the overview counts the ingestion");
        await AsStaffAsync("ops02", "ops");

        var seen = await web.RunAsync("dashboard", new { });

        Assert.Contains("接入量（按渠道）", seen.GetProperty("drawn").EnumerateArray().Select(x => x.GetString()));
        Assert.Empty(seen.GetProperty("errors").EnumerateArray());
    }

    [Fact]
    public async Task A_salesperson_is_refused_the_review_page_and_does_not_see_it_in_the_menu()
    {
        await AsStaffAsync("sales02", "sales");

        var seen = await web.RunAsync("refused", new { });

        var menu = seen.GetProperty("menu").EnumerateArray().Select(x => x.GetString()).ToList();
        Assert.DoesNotContain("人工确认", menu);
        Assert.Contains("客户搜索", menu);
        Assert.Equal("无权访问此页面", seen.GetProperty("text").GetString());
    }
}
