using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Cdp.Shared.Sync;
using Cdp.Tests.Support;
using Cdp.Tests.Sync;

namespace Cdp.Tests.Ingestion;

/// <summary>
/// The host with every logger at Trace (except what the host itself pins higher, e.g. the request lines that carry
/// URLs), fast sync retries and the alert robot: what a log sink would see if someone turned logging all the way up.
/// </summary>
public sealed class TraceLoggingApp : SyncApp
{
    protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings =>
        base.ExtraSettings.Concat(new Dictionary<string, string?>
        {
            ["Logging:LogLevel:Default"] = "Trace",
            ["Logging:LogLevel:Microsoft"] = "Trace",
            ["Logging:LogLevel:Microsoft.AspNetCore"] = "Trace",
            ["Logging:LogLevel:System"] = "Trace",
            // The console is not what this test reads; keep it as quiet as usual.
            ["Logging:Console:LogLevel:Default"] = "Warning",
        });
}

/// <summary>
/// PIPL (issue 10): ALL log output — every logger, every level — of the flows that handle the most personal data:
/// ingestion with phones and emails on every channel, identity resolution and a review, conversion, a sync that fails,
/// retries and alerts, the 360 views and a search by phone. No line may hold a phone in any spelling (raw digits,
/// +86, spaced, dashed: the test compares the line's digits), an email or a unionId.
/// </summary>
public sealed class AllLogsPrivacyTests(TraceLoggingApp app) : IClassFixture<TraceLoggingApp>
{
    [Fact]
    public async Task No_log_line_at_any_level_holds_a_phone_email_or_unionId()
    {
        var phones = new List<string>();
        var texts = new List<string>();
        string Mobile() { var m = TestData.Mobile(); phones.Add(m); return m; }
        string Email() { var e = TestData.Email(); texts.Add(e); return e; }
        string Spaced(string m) => $"+86 {m[..3]} {m[3..7]} {m[7..]}";

        // Every channel, phones spelt every way.
        var company = TestData.CompanyWord() + "科技有限公司";
        var crmContact = await Settle("crm", Payloads.Crm("contact", new { LastName = "黄", FirstName = "蓉", MobilePhone = Spaced(Mobile()), Email = Email(), Company = company, Phone = "021-6234-5678" }));
        var crmLeadMobile = Mobile();
        var crmLead = await Settle("crm", Payloads.Crm("lead", new { LastName = "郭", FirstName = "靖", MobilePhone = "+86" + crmLeadMobile, Email = Email(), Company = company }));
        await Settle("erp", Payloads.Crm("account", new { AccountName = company, City = "杭州", Phone = "400-812-3456" }));
        var unionId = "oUnion" + Guid.NewGuid().ToString("N");
        texts.Add(unionId);
        // A visitor's form on the CRM lead's mobile: fills, never overwrites.
        await Settle("wechat", Payloads.WeChatForm(TestData.Id("o"), crmLeadMobile[..3] + "-" + crmLeadMobile[3..7] + "-" + crmLeadMobile[7..], email: Email(), unionId: unionId));
        var formLead = await Settle("wechat", Payloads.WeChatForm(TestData.Id("o"), Mobile(), company: TestData.CompanyWord() + "有限公司", email: Email(), unionId: "oUnion" + Guid.NewGuid().ToString("N")));
        texts.Add(formLead.UnionId);
        var rejected = await CdpApp.IngestAsync(app.Client, "crm", Payloads.Crm("lead", new { LastName = "欧阳", MobilePhone = Mobile()[..10], Email = "broken@@" + Email() }));
        Assert.Equal("rejected", (await CdpApp.SettledAsync(app.Client, rejected.Id)).Status);
        var externalId = TestData.Id("wm");
        app.WeCom.AddContact(externalId, "黄药师", "桃花岛", CdpApp.SalesUserId);
        phones.Add(WeComStandIn.MobileOf(externalId));
        texts.Add("union-" + externalId);
        var callback = WeComCallbacks.Build(app.WeComCrypto, WeComStandIn.DefaultCorpId,
            WeComCallbacks.ChangeExternalContactXml(WeComStandIn.DefaultCorpId, "add_external_contact", CdpApp.SalesUserId, externalId));
        // WeCom answers the contact fetch with a 500 once: the data-ingestion message fails an attempt and is retried.
        app.WeCom.FailNext(1, path: WeComStandIn.GetContactPath);
        using (var wecom = await app.Client.PostAsync($"/api/ingest/wecom?{callback.Query}", new StringContent(callback.Body, Encoding.UTF8, "text/xml")))
            Assert.Equal("processed", (await CdpApp.SettledAsync(app.Client, Guid.Parse(wecom.Headers.GetValues("X-Cdp-Ingestion-Id").Single()), TimeSpan.FromSeconds(90))).Status);
        Assert.Contains(app.Logs.Lines, l => l.Contains("failed attempt", StringComparison.Ordinal));

        // Identity review: two accounts of one name (different credit codes), then a contact of that company.
        var twin = TestData.CompanyWord() + "贸易有限公司";
        await Settle("erp", Payloads.Crm("account", new { AccountName = twin, CreditCode = TestData.CreditCode() }));
        await Settle("erp", Payloads.Crm("account", new { AccountName = twin, CreditCode = TestData.CreditCode() }));
        var inReview = await CdpApp.IngestAsync(app.Client, "crm", Payloads.Crm("contact", new { LastName = "洪", FirstName = "七", MobilePhone = Mobile(), Email = Email(), Company = twin }));
        var review = await CdpApp.SettledAsync(app.Client, inReview.Id);
        Assert.Equal("review", review.Status);
        using (var reviews = await app.Client.GetAsync("/api/identity/reviews?status=open")) Assert.Equal(HttpStatusCode.OK, reviews.StatusCode);
        using (var resolve = await app.Client.PostAsJsonAsync($"/api/identity/reviews/{review.ReviewId}/resolve", new { decision = "create" }))
            Assert.Equal(HttpStatusCode.OK, resolve.StatusCode);

        // Conversion of the form lead.
        using (var convert = await app.Client.PostAsJsonAsync($"/api/leads/{formLead.Status.EntityId}/convert", new { opportunity = new { name = "年度采购" } }))
            Assert.Equal(HttpStatusCode.OK, convert.StatusCode);

        // A sync that fails every attempt, is retried and alerts.
        var (contact, _) = await app.NewContactAsync();
        app.WeCom.ErrCodeNext(60011, count: 6, path: WeComStandIn.MarkTagPath, errMsg: "no privilege to access/modify contact/party/agent");
        var taskId = await app.PutTagsAsync(contact, "重点客户");
        await app.UntilStatusAsync(taskId, SyncStatus.Failed);
        await Eventually.Until(() => app.WeCom.Alerts.Any(a => a.Contains(taskId.ToString())), TimeSpan.FromSeconds(20), "alert");

        // 360 reads, a follow-up that quotes a phone, and a search by phone and by email.
        var followUpPhone = Mobile();
        using (var followUp = await app.Client.PostAsJsonAsync($"/api/contacts/{crmContact.Status.EntityId}/follow-ups", new { content = $"客户说打 {followUpPhone}" }))
            Assert.Equal(HttpStatusCode.Created, followUp.StatusCode);
        await using var accountOf = app.Database.DataSource.CreateCommand("select primary_account_id from contact where contact_id = $1");
        accountOf.Parameters.Add(new() { Value = crmContact.Status.EntityId!.Value });
        var accountId = (Guid)(await accountOf.ExecuteScalarAsync())!;
        foreach (var path in new[]
        {
            $"/api/contacts/{crmContact.Status.EntityId}/360", $"/api/leads/{crmLead.Status.EntityId}", $"/api/leads/{formLead.Status.EntityId}",
            $"/api/accounts/{accountId}/360", $"/api/search?q={Uri.EscapeDataString(Spaced(phones[0]))}",
            $"/api/search?q={Uri.EscapeDataString(texts[0])}",
        })
        {
            using var read = await app.Client.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        }

        using (var reveal = await app.Client.PostAsJsonAsync("/api/pii/reveal", new { entityType = "contact", entityId = crmContact.Status.EntityId, field = "mobilePhone" }))
            Assert.Equal(HttpStatusCode.OK, reveal.StatusCode);

        var lines = app.Logs.Lines.ToList();
        Assert.Contains(lines, l => l.StartsWith("Debug", StringComparison.Ordinal) || l.StartsWith("Trace", StringComparison.Ordinal));
        // The detector itself: a phone spelt with +86 and dashes is found by its digits.
        Assert.NotEmpty(Leaks(["Resolved key lead:+86 138-1234-5678"], ["13812345678"], []));
        var leaks = Leaks(lines, phones, texts);
        Assert.True(leaks.Count == 0, $"{leaks.Count} log lines carry personal data:\n{string.Join("\n", leaks.Take(20))}");
    }

    static List<string> Leaks(IEnumerable<string> lines, IReadOnlyList<string> phones, IReadOnlyList<string> texts) =>
        (from line in lines
         let digits = new string(line.Where(char.IsAsciiDigit).ToArray())
         from secret in phones.Where(p => digits.Contains(p, StringComparison.Ordinal))
             .Concat(texts.Where(t => line.Contains(t, StringComparison.OrdinalIgnoreCase)))
         select $"{secret}: {line}").ToList();

    async Task<(IngestionStatusView Status, string UnionId)> Settle(string channel, string json)
    {
        var accepted = await CdpApp.IngestAsync(app.Client, channel, json);
        var status = await CdpApp.SettledAsync(app.Client, accepted.Id);
        Assert.Equal("processed", status.Status);
        using var doc = JsonDocument.Parse(json);
        return (new(status.EntityId), doc.RootElement.TryGetProperty("unionId", out var u) ? u.GetString() ?? "" : "");
    }

    record IngestionStatusView(Guid? EntityId);
}
