using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cdp.Shared;
using Cdp.Shared.Access;
using Cdp.Shared.Sync;
using Cdp.Tests.Support;
using Dapper;

namespace Cdp.Tests.Sync;

/// <summary>
/// Sidebar changes act as the person (issue 9): each is audited in its own transaction with its actor, a signed-in staff
/// member's change is pushed to WeCom as that member (and refused when they do not follow the contact), and a push
/// touches only the platform's own tag group.
/// </summary>
public sealed class SyncActorTests(SyncApp app) : IClassFixture<SyncApp>
{
    const string MarkTag = WeComStandIn.MarkTagPath;

    [Fact]
    public async Task A_tag_save_by_an_API_key_is_audited_once_with_a_count_and_pushed_as_the_first_follower()
    {
        using var key = await ApiKeyCaller.CreateAsync(app, Permissions.CustomersWrite);
        var (contact, external) = await app.NewContactAsync();

        var taskId = await SyncApp.PutTagsAsync(key.Client, contact, "机密项目", "VIP");

        var audit = Assert.Single(await AuditTrail.OfAsync(app, contact, "contact.tags.save"));
        Assert.Equal((key.Actor, "contact"), (audit.Actor, audit.EntityType));
        Assert.Equal(2, audit.Detail!.Value.GetProperty("tags").GetInt32());
        Assert.DoesNotContain("机密项目", audit.Detail.Value.GetRawText());
        var (task, _) = await app.UntilStatusAsync(taskId, SyncStatus.Succeeded);
        Assert.Equal((key.Actor, (string?)null), (task.CreatedBy, task.ActingUserId));
        Assert.Equal(CdpBackend.SalesUserId, MarkTagBodyFor(external!).GetProperty("userid").GetString());
    }

    [Fact]
    public async Task Tags_of_an_unknown_contact_leave_no_audit_row()
    {
        var contact = Guid.NewGuid();
        using var response = await app.Client.PutAsJsonAsync($"/api/contacts/{contact}/tags", new { tags = new[] { "VIP" } });
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Empty(await AuditTrail.OfAsync(app, contact, "contact.tags.save"));
    }

    [Fact]
    public async Task A_follow_up_is_audited_with_its_channel_not_its_content_and_records_who_wrote_it()
    {
        using var key = await ApiKeyCaller.CreateAsync(app, Permissions.CustomersWrite);
        var (contact, _) = await app.NewContactAsync(withWeCom: false);

        using var response = await key.Client.PostAsJsonAsync($"/api/contacts/{contact}/follow-ups", new { content = "客户手机 13812345678 已确认", channel = "phone" });

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var saved = (await response.Content.ReadFromJsonAsync<FollowUpSaved>(CdpJson.Options))!;
        var audit = Assert.Single(await AuditTrail.OfAsync(app, contact, "contact.follow_up.add"));
        Assert.Equal(key.Actor, audit.Actor);
        Assert.Equal("phone", audit.Detail!.Value.GetProperty("channel").GetString());
        Assert.DoesNotContain("13812345678", audit.Detail.Value.GetRawText());
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        Assert.Equal(key.Actor, await conn.QuerySingleAsync<string>("select created_by from follow_up where follow_up_id = @Id", saved));
        Assert.Equal(key.Actor, (await app.TaskAsync(saved.SyncTaskId)).CreatedBy);
    }

    [Fact]
    public async Task A_staff_members_tag_push_acts_as_that_member_and_touches_only_the_platforms_group()
    {
        var (contact, external) = await app.NewContactAsync();
        var staffId = TestData.Id("sales");
        using var staff = await StaffSession.SignInAsync(app, staffId, [Roles.Sales]);
        // Followed by sales01 first and by the signed-in member later: the push must still act as the member.
        await FollowAsync(contact, external!, CdpBackend.SalesUserId, staffId);

        var first = await SyncApp.PutTagsAsync(staff, contact, "VIP", "华东");
        var (task, _) = await app.UntilStatusAsync(first, SyncStatus.Succeeded);

        Assert.Equal((Authenticate.StaffPrefix + staffId, staffId), (task.CreatedBy, task.ActingUserId));
        Assert.Equal(staffId, MarkTagBodyFor(external!).GetProperty("userid").GetString());
        Assert.Equal(["VIP", "制造业", "华东"], app.WeCom.TagNamesOf(external!, staffId));
        Assert.Equal(["制造业"], app.WeCom.TagNamesOf(external!, CdpBackend.SalesUserId));
        Assert.Equal(Authenticate.StaffPrefix + staffId, Assert.Single(await AuditTrail.OfAsync(app, contact, "contact.tags.save")).Actor);

        var second = await SyncApp.PutTagsAsync(staff, contact, "华东");
        await app.UntilStatusAsync(second, SyncStatus.Succeeded);

        var removed = MarkTagBodyFor(external!).GetProperty("remove_tag").EnumerateArray().Select(t => t.GetString()).ToList();
        Assert.DoesNotContain("et-manufacturing", removed);
        Assert.Single(removed);
        Assert.Equal(["制造业", "华东"], app.WeCom.TagNamesOf(external!, staffId));
        Assert.Equal(2, (await AuditTrail.OfAsync(app, contact, "contact.tags.save")).Count);
    }

    [Fact]
    public async Task A_staff_member_who_does_not_follow_the_contact_is_refused_and_nothing_is_stored()
    {
        var (contact, _) = await app.NewContactAsync();
        // An admin is not limited to their own customers, so the refusal here is the WeCom follower rule alone.
        var staffId = TestData.Id("admin");
        using var staff = await StaffSession.SignInAsync(app, staffId, [Roles.Admin]);
        var marks = app.WeCom.Calls(MarkTag);

        using var tags = await staff.PutAsJsonAsync($"/api/contacts/{contact}/tags", new { tags = new[] { "VIP" } });
        using var followUp = await staff.PostAsJsonAsync($"/api/contacts/{contact}/follow-ups", new { content = "拜访", channel = "visit" });

        Assert.Equal(HttpStatusCode.Forbidden, tags.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, followUp.StatusCode);
        Assert.Equal("application/problem+json", tags.Content.Headers.ContentType?.MediaType);
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        Assert.Equal(0, await conn.QuerySingleAsync<int>("""
            select (select count(*) from customer_tag where contact_id = @contact) + (select count(*) from follow_up where contact_id = @contact)
                 + (select count(*) from sync_task where entity_id = @contact) + (select count(*) from audit_log where entity_id = @id)
            """, new { contact, id = contact.ToString() }));
        Assert.Equal(marks, app.WeCom.Calls(MarkTag));
    }

    [Fact]
    public async Task When_WeCom_cannot_confirm_the_follower_the_save_is_503_and_nothing_is_stored()
    {
        var (contact, _) = await app.NewContactAsync();
        var staffId = TestData.Id("admin");
        using var staff = await StaffSession.SignInAsync(app, staffId, [Roles.Admin]);
        app.WeCom.FailNext(1, HttpStatusCode.BadGateway, WeComStandIn.GetContactPath);

        using var response = await staff.PutAsJsonAsync($"/api/contacts/{contact}/tags", new { tags = new[] { "VIP" } });

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Empty(await AuditTrail.OfAsync(app, contact, "contact.tags.save"));
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        Assert.Equal(0, await conn.QuerySingleAsync<int>("select count(*)::int from sync_task where entity_id = @contact", new { contact }));
    }

    [Fact]
    public async Task A_change_whose_author_stopped_following_the_contact_fails_instead_of_being_pushed_as_someone_else()
    {
        var (contact, external) = await app.NewContactAsync();
        var staffId = TestData.Id("sales");
        using var staff = await StaffSession.SignInAsync(app, staffId, [Roles.Sales]);
        await FollowAsync(contact, external!, CdpBackend.SalesUserId, staffId);
        // The first attempt fails whenever it runs; by the retry (or already the first look) the member has left.
        app.WeCom.ErrCodeNext(45033, count: 1, path: MarkTag);
        try
        {
            var taskId = await SyncApp.PutTagsAsync(staff, contact, "VIP");
            app.WeCom.AddContact(external!, "张三", "华瑞科技", CdpBackend.SalesUserId);

            var (task, _) = await app.UntilStatusAsync(taskId, SyncStatus.Failed);

            Assert.Contains("does not follow", task.LastError);
            Assert.Empty(app.WeCom.TagNamesOf(external!, CdpBackend.SalesUserId, SyncApp.TagGroup));
        }
        finally
        {
            app.WeCom.ClearCues();
        }
    }

    [Fact]
    public async Task A_push_never_removes_another_groups_tag_even_of_the_same_name()
    {
        var (contact, external) = await app.NewContactAsync();
        // The salesperson also carries 客户等级/VIP, a tag another system manages under the same name as the CDP's.
        app.WeCom.AddContactJson(external!, new JsonObject
        {
            ["external_contact"] = new JsonObject { ["external_userid"] = external, ["name"] = "张三", ["type"] = 1 },
            ["follow_user"] = new JsonArray(new JsonObject
            {
                ["userid"] = CdpBackend.SalesUserId, ["createtime"] = 1_700_000_000,
                ["tags"] = new JsonArray(new JsonObject { ["group_name"] = "客户等级", ["tag_name"] = "VIP", ["tag_id"] = "et-other-vip", ["type"] = 1 }),
            }),
        }.ToJsonString());

        await app.UntilStatusAsync(await app.PutTagsAsync(contact, "VIP"), SyncStatus.Succeeded);
        Assert.Equal(["VIP"], app.WeCom.TagNamesOf(external!, CdpBackend.SalesUserId, "客户等级"));
        Assert.Equal(["VIP"], app.WeCom.TagNamesOf(external!, CdpBackend.SalesUserId, SyncApp.TagGroup));

        await app.UntilStatusAsync(await app.PutTagsAsync(contact), SyncStatus.Succeeded);
        Assert.Equal(["VIP"], app.WeCom.TagNamesOf(external!, CdpBackend.SalesUserId, "客户等级"));
        Assert.Empty(app.WeCom.TagNamesOf(external!, CdpBackend.SalesUserId, SyncApp.TagGroup));
        Assert.DoesNotContain("et-other-vip", MarkTagBodyFor(external!).GetProperty("remove_tag").EnumerateArray().Select(t => t.GetString()));
    }

    [Fact]
    public async Task A_retry_is_audited_once_and_a_refused_retry_adds_no_row()
    {
        using var ops = await ApiKeyCaller.CreateAsync(app, Permissions.SyncManage);
        var (contact, _) = await app.NewContactAsync(withWeCom: false);
        var taskId = await app.InsertTaskAsync(SyncTargetNames.WeComTags, contact, SyncStatus.Failed, "WeCom was down");

        using var retry = await ops.Client.PostAsync($"/api/sync-tasks/{taskId}/retry", null);
        using var again = await ops.Client.PostAsync($"/api/sync-tasks/{taskId}/retry", null);
        var unknown = Guid.NewGuid();
        using var missing = await ops.Client.PostAsync($"/api/sync-tasks/{unknown}/retry", null);

        Assert.Equal(HttpStatusCode.Accepted, retry.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        var audit = Assert.Single(await AuditTrail.OfAsync(app, taskId, "sync_task.retry"));
        Assert.Equal((ops.Actor, "sync_task"), (audit.Actor, audit.EntityType));
        Assert.Empty(await AuditTrail.OfAsync(app, unknown, "sync_task.retry"));
    }

    /// <summary>
    /// The contact followed by <paramref name="followers"/> in WeCom, and in the salespeople's scope as the WeCom
    /// callback would have recorded it.
    /// </summary>
    async Task FollowAsync(Guid contactId, string externalUserId, params string[] followers)
    {
        app.WeCom.AddContact(externalUserId, "张三", "华瑞科技", followers);
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        await conn.ExecuteAsync("""
            insert into customer_owner (entity_type, entity_id, staff_user_id, source, source_ref, since)
            select 'contact', @contactId, unnest(@followers), 'wecom_follow', @externalUserId, now()
            """, new { contactId, externalUserId, followers });
    }

    /// <summary>The last mark_tag call the stand-in received for the contact.</summary>
    JsonElement MarkTagBodyFor(string externalUserId) =>
        app.WeCom.Bodies(MarkTag).Select(b => JsonDocument.Parse(b).RootElement)
            .Last(b => b.GetProperty("external_userid").GetString() == externalUserId);
}
