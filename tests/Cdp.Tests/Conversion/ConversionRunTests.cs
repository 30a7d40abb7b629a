using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Cdp.Shared.Conversion;
using Cdp.Shared.Storage;
using Cdp.Tests.Support;
using Dapper;
using Microsoft.Extensions.DependencyInjection;

namespace Cdp.Tests.Conversion;

/// <summary>A host that does not wait for conversions to finish.</summary>
public sealed class NoWaitApp : CdpApp
{
    /// <summary>The notification topic is left unconsumed: the tests count its messages.</summary>
    protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings =>
        [new("Conversion:WaitTimeout", "00:00:00"), new("Topics:notification:Enabled", "false")];
}

/// <summary>The activity's idempotency and the endpoint's 202 answer (a host that does not wait).</summary>
public sealed class ConversionRunTests(NoWaitApp app) : IClassFixture<NoWaitApp>
{
    readonly HttpClient client = app.Client;

    [Fact]
    public async Task A_rerun_of_the_same_run_answers_converted_and_any_other_run_already_converted()
    {
        var leadId = await InsertLead();
        var conversion = app.Services.GetRequiredService<LeadConversion>();
        var command = new ConvertLeadCommand(new ConvertLeadRequest(leadId, new OpportunityInput("商机", 1, null)), Guid.NewGuid());

        var first = await conversion.ConvertAsync(command, CancellationToken.None);
        var rerun = await conversion.ConvertAsync(command, CancellationToken.None);
        var other = await conversion.ConvertAsync(command with { ConversionId = Guid.NewGuid() }, CancellationToken.None);

        Assert.Equal(ConversionOutcome.Converted, first.Outcome);
        Assert.Equal(first, rerun);
        Assert.Equal(first with { Outcome = ConversionOutcome.AlreadyConverted }, other);
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        Assert.Equal(1, await conn.QuerySingleAsync<int>(
            "select count(*)::int from topic_message where topic = 'notification' and message_key = @key", new { key = $"lead:{leadId}" }));
    }

    [Fact]
    public async Task Without_waiting_the_answer_is_202_with_the_status_url_of_the_singleton_instance()
    {
        var leadId = await InsertLead();

        using var response = await client.PostAsync($"/api/leads/{leadId}/convert", null);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal($"convert-lead-{leadId}", body.GetProperty("id").GetString());
        var statusUri = new Uri(body.GetProperty("statusQueryGetUri").GetString()!);
        Assert.EndsWith($"/api/orchestrations/convert-lead-{leadId}", statusUri.AbsolutePath, StringComparison.Ordinal);
        Assert.Equal(statusUri, response.Headers.Location);

        JsonElement status = default;
        await Eventually.Until(async () =>
        {
            status = await client.GetFromJsonAsync<JsonElement>(statusUri.PathAndQuery);
            return status.GetProperty("runtimeStatus").GetString() == "Completed";
        }, TimeSpan.FromSeconds(20));
        Assert.Equal("converted", status.GetProperty("output").GetProperty("outcome").GetString());
        Assert.True((await app.Services.GetRequiredService<LeadConversion>().GetStateAsync(leadId, CancellationToken.None))!.IsConverted);
    }

    async Task<Guid> InsertLead()
    {
        var leadId = Guid.CreateVersion7();
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        await conn.ExecuteAsync("""
            insert into lead (lead_id, lead_name, company_name, mobile_phone, city, shard_id)
            values (@leadId, '赵六', @company, @mobile, '北京', @shard)
            """, new { leadId, company = $"北京{TestData.CompanyWord(6)}有限公司", mobile = TestData.Mobile(), shard = Shard.Of(leadId) });
        return leadId;
    }
}
