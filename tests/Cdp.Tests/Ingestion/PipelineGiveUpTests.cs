using System.Net;
using System.Text;
using Cdp.Tests.Support;

namespace Cdp.Tests.Ingestion;

/// <summary>Its own app and WeCom stand-in: this test leaves the stand-in failing, which must not leak into others.</summary>
public sealed class PipelineGiveUpTests(CdpApp app) : IClassFixture<CdpApp>
{
    [Fact]
    public async Task WeCom_api_down_for_good_ends_the_receipt_failed_with_the_error_instead_of_queued_forever()
    {
        var externalId = TestData.Id("wm");
        app.WeCom.AddContact(externalId, "殷离", null, "sales05");
        app.WeCom.FailNext(10_000, HttpStatusCode.ServiceUnavailable, WeComStandIn.GetContactPath);
        var callback = WeComCallbacks.Build(app.WeComCrypto, WeComStandIn.DefaultCorpId,
            WeComCallbacks.ChangeExternalContactXml(WeComStandIn.DefaultCorpId, "add_external_contact", "sales05", externalId));

        using var response = await app.Client.PostAsync($"/api/ingest/wecom?{callback.Query}", new StringContent(callback.Body, Encoding.UTF8, "text/xml"));
        var id = Guid.Parse(response.Headers.GetValues("X-Cdp-Ingestion-Id").Single());
        var status = await CdpApp.SettledAsync(app.Client, id, TimeSpan.FromSeconds(60));

        Assert.Equal("failed", status.Status);
        var error = Assert.Single(status.Errors);
        Assert.Equal("ingestion", error.Field);
        Assert.Contains("Gave up", error.Message);
    }
}
