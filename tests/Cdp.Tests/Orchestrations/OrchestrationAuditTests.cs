using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Cdp.Orchestrations;
using Cdp.Shared.Access;
using Cdp.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Cdp.Tests.Orchestrations;

/// <summary>
/// Terminations, raised events and hand-started full recalculations change no table of ours in a transaction; each
/// writes its audit row right after the change succeeded, and none when it was refused.
/// </summary>
public sealed class OrchestrationAuditTests(ApprovalApp app) : IClassFixture<ApprovalApp>
{
    readonly IOrchestrationClient orchestrations = app.Services.GetRequiredService<IOrchestrationClient>();

    [Fact]
    public async Task A_raised_event_is_audited_with_its_name_and_size_not_its_data()
    {
        using var ops = await ApiKeyCaller.CreateAsync(app, Permissions.OrchestrationsManage);
        var id = await orchestrations.StartAsync(nameof(Approval), 60_000, "approval-" + Guid.NewGuid().ToString("N"));

        using var raised = await ops.Client.PostAsync($"/api/orchestrations/{id}/raiseEvent/Approved", new StringContent("\"王经理\"", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.Accepted, raised.StatusCode);
        var audit = Assert.Single(await AuditTrail.OfAsync(app, id, "orchestration.raise_event"));
        Assert.Equal((ops.Actor, "orchestration", "Approved"), (audit.Actor, audit.EntityType, audit.Detail!.Value.GetProperty("eventName").GetString()));
        Assert.DoesNotContain("王经理", audit.Detail.Value.GetRawText());
    }

    [Fact]
    public async Task A_termination_is_audited_once_and_an_unknown_instance_leaves_no_row()
    {
        using var ops = await ApiKeyCaller.CreateAsync(app, Permissions.OrchestrationsManage);
        var id = await orchestrations.StartAsync(nameof(Approval), 60_000, "approval-" + Guid.NewGuid().ToString("N"));
        var unknown = "nope-" + Guid.NewGuid().ToString("N");

        using var terminated = await ops.Client.PostAsync($"/api/orchestrations/{id}/terminate?reason=客户13812345678要求", null);
        using var missing = await ops.Client.PostAsync($"/api/orchestrations/{unknown}/terminate", null);

        Assert.Equal((HttpStatusCode.Accepted, HttpStatusCode.NotFound), (terminated.StatusCode, missing.StatusCode));
        var audit = Assert.Single(await AuditTrail.OfAsync(app, id, "orchestration.terminate"));
        Assert.Equal(ops.Actor, audit.Actor);
        Assert.True(audit.Detail!.Value.GetProperty("reasonGiven").GetBoolean());
        Assert.DoesNotContain("13812345678", audit.Detail.Value.GetRawText());
        Assert.Empty(await AuditTrail.OfAsync(app, unknown, "orchestration.terminate"));
    }

    [Fact]
    public async Task A_full_recalculation_started_by_hand_is_audited_with_its_instance()
    {
        using var ops = await ApiKeyCaller.CreateAsync(app, Permissions.OpsAdmin);
        var before = (await AuditTrail.OfAsync(app, Cdp.Orchestrations.Summaries.RecalculateAllSummariesOrchestrator.InstanceId, "summaries.recalculate")).Count;

        using var response = await ops.Client.PostAsync("/api/admin/summaries/recalculate", null);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        var rows = await AuditTrail.OfAsync(app, id, "summaries.recalculate");
        Assert.Equal(before + 1, rows.Count);
        Assert.Equal((ops.Actor, "orchestration"), (rows[0].Actor, rows[0].EntityType));
    }
}
