using System.Net;
using System.Net.Http.Json;
using Cdp.Shared.Access;
using Cdp.Shared.Conversion;
using Cdp.Tests.Support;
using Dapper;
using Microsoft.Extensions.DependencyInjection;

namespace Cdp.Tests.Conversion;

/// <summary>A conversion is audited in its own transaction, with the caller carried through the orchestration's input.</summary>
public sealed class ConversionActorTests(ConversionActorTests.App app) : IClassFixture<ConversionActorTests.App>
{
    /// <summary>These tests read the 200 answer: 30 s of waiting (not 5), so a busy machine's slow conversion is not a 202.</summary>
    public sealed class App : CdpApp
    {
        protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings => [new("Conversion:WaitTimeout", "00:00:30")];
    }

    [Fact]
    public async Task A_conversion_is_audited_once_with_the_API_key_and_converting_again_adds_no_row()
    {
        using var key = await ApiKeyCaller.CreateAsync(app, Permissions.LeadsConvert);
        var leadId = await InsertLeadAsync();

        using var convert = await key.Client.PostAsJsonAsync($"/api/leads/{leadId}/convert", new { opportunity = new { name = "年度采购" } });
        using var again = await key.Client.PostAsJsonAsync($"/api/leads/{leadId}/convert", new { opportunity = new { name = "年度采购" } });

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.Conflict), (convert.StatusCode, again.StatusCode));
        var audit = Assert.Single(await AuditTrail.OfAsync(app, leadId, "lead.convert"));
        Assert.Equal((key.Actor, "lead"), (audit.Actor, audit.EntityType));
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        var opportunity = await conn.QuerySingleAsync<(string CreatedBy, string? Owner)>(
            "select created_by, owner_id from opportunity where lead_id = @leadId", new { leadId });
        Assert.Equal((key.Actor, (string?)null), opportunity);
    }

    [Fact]
    public async Task A_staff_member_who_names_no_owner_owns_the_conversion()
    {
        var stewardId = TestData.Id("steward");
        using var steward = await StaffSession.SignInAsync(app, stewardId, [Roles.Steward]);
        var leadId = await InsertLeadAsync();

        using var convert = await steward.PostAsJsonAsync($"/api/leads/{leadId}/convert", new { opportunity = new { name = "试点项目" } });

        Assert.Equal(HttpStatusCode.OK, convert.StatusCode);
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        Assert.Equal((stewardId, Authenticate.StaffPrefix + stewardId), await conn.QuerySingleAsync<(string, string)>(
            "select owner_id, created_by from opportunity where lead_id = @leadId", new { leadId }));
        Assert.Equal(stewardId, await conn.QuerySingleAsync<string>("select converted_owner_id from lead where lead_id = @leadId", new { leadId }));
        Assert.Equal(Authenticate.StaffPrefix + stewardId, Assert.Single(await AuditTrail.OfAsync(app, leadId, "lead.convert")).Actor);
    }

    [Fact]
    public async Task A_rerun_of_the_activity_that_already_committed_writes_no_second_row_and_a_refusal_none()
    {
        var conversion = app.Services.GetRequiredService<LeadConversion>();
        var actor = new AuditActor("key:rerun", "req-1", "127.0.0.1", "test");
        var leadId = await InsertLeadAsync();
        var command = new ConvertLeadCommand(new ConvertLeadRequest(leadId, Actor: actor), Guid.NewGuid());
        var noCompany = await InsertLeadAsync(withCompany: false);

        await conversion.ConvertAsync(command, CancellationToken.None);
        await conversion.ConvertAsync(command, CancellationToken.None);
        var refused = await conversion.ConvertAsync(command with { Request = command.Request with { LeadId = noCompany } }, CancellationToken.None);

        Assert.Equal(ConversionOutcome.Refused, refused.Outcome);
        var audit = Assert.Single(await AuditTrail.OfAsync(app, leadId, "lead.convert"));
        Assert.Equal(("key:rerun", "req-1"), (audit.Actor, audit.RequestId));
        Assert.Empty(await AuditTrail.OfAsync(app, noCompany, "lead.convert"));
    }

    /// <summary>A lead to convert; without a company the conversion is refused (no account to choose).</summary>
    Task<Guid> InsertLeadAsync(bool withCompany = true) =>
        ConversionData.InsertLeadAsync(app.Database.DataSource, TestData.Mobile(), null, withCompany ? ConversionData.Company() : "");
}
