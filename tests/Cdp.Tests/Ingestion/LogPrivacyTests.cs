using System.Net;
using System.Net.Http.Json;
using System.Text;
using Cdp.Tests.Support;

namespace Cdp.Tests.Ingestion;

/// <summary>PIPL: whatever happens to a record — accepted, processed, rejected, refused — no log line carries its phone or email.</summary>
public sealed class LogPrivacyTests(CdpApp app) : IClassFixture<CdpApp>
{
    [Fact]
    public async Task Logs_never_carry_a_full_phone_number_or_email()
    {
        var mobile = TestData.Mobile();
        var email = TestData.Email();
        var processed = Payloads.Crm("contact", new { LastName = "黄", FirstName = "蓉", MobilePhone = mobile, Email = email, Company = TestData.CompanyWord() + "有限公司" });
        var rejected = Payloads.Crm("lead", new { LastName = "郭", MobilePhone = mobile[..10], Email = "broken@@" + email });

        var ok = await CdpApp.IngestAsync(app.Client, "crm", processed);
        var bad = await CdpApp.IngestAsync(app.Client, "crm", rejected);
        using var refused = await app.Client.SendAsync(CdpApp.Signed("crm", processed, secret: "wrong"));
        var externalId = TestData.Id("wm");
        app.WeCom.AddContact(externalId, "黄药师", null, "sales20");
        var callback = WeComCallbacks.Build(app.WeComCrypto, WeComStandIn.DefaultCorpId,
            WeComCallbacks.ChangeExternalContactXml(WeComStandIn.DefaultCorpId, "add_external_contact", "sales20", externalId));
        using var wecom = await app.Client.PostAsync($"/api/ingest/wecom?{callback.Query}", new StringContent(callback.Body, Encoding.UTF8, "text/xml"));

        Assert.Equal("processed", (await CdpApp.SettledAsync(app.Client, ok.Id)).Status);
        Assert.Equal("rejected", (await CdpApp.SettledAsync(app.Client, bad.Id)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("processed", (await CdpApp.SettledAsync(app.Client, Guid.Parse(wecom.Headers.GetValues("X-Cdp-Ingestion-Id").Single()))).Status);

        Assert.NotEmpty(app.Logs.Lines);
        var secrets = new[] { mobile, mobile[..10], email, WeComStandIn.MobileOf(externalId), WeComStandIn.DefaultSecret, CdpApp.CrmSecret };
        foreach (var line in app.Logs.Lines)
            foreach (var secret in secrets)
                Assert.DoesNotContain(secret, line);
    }

    [Fact]
    public async Task A_WeChat_lead_with_a_unionId_ingested_and_converted_leaves_no_identifier_in_the_logs()
    {
        var mobile = TestData.Mobile();
        var email = TestData.Email();
        var unionId = "oUnion" + Guid.NewGuid().ToString("N");
        var form = Payloads.WeChatForm(TestData.Id("o"), mobile, company: TestData.CompanyWord() + "有限公司", email: email, unionId: unionId);

        var accepted = await CdpApp.IngestAsync(app.Client, "wechat", form);
        var status = await CdpApp.SettledAsync(app.Client, accepted.Id);
        Assert.Equal("processed", status.Status);
        using var convert = await app.Client.PostAsJsonAsync($"/api/leads/{status.EntityId}/convert", new { opportunity = new { name = "年度采购" } });
        Assert.Equal(HttpStatusCode.OK, convert.StatusCode);

        Assert.NotEmpty(app.Logs.Lines);
        foreach (var line in app.Logs.Lines)
            foreach (var secret in new[] { mobile, email, unionId })
                Assert.DoesNotContain(secret, line);
    }
}
