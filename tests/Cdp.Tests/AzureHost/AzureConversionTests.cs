using System.Text.Json;
using Cdp.Orchestrations;
using Cdp.Orchestrations.Conversion;
using Cdp.Shared;
using Cdp.Shared.Access;
using Cdp.Shared.Api;
using Cdp.Shared.Conversion;
using Cdp.Shared.Messaging;
using Cdp.Tests.Conversion;
using Cdp.Tests.Support;
using Dapper;
using Microsoft.Extensions.DependencyInjection;

namespace Cdp.Tests.AzureHost;

/// <summary>
/// Lead conversion through the Azure host's ConvertLeadOrchestrator and ConvertLeadActivity functions on the real
/// Durable worker, beside the same conversion on the local engine (the local host, its own database, leaving the
/// notification topic unconsumed so both outboxes can be compared).
/// </summary>
public sealed class AzureConversionTests(AzureHostApp azure, ConvertLeadApp local) : IClassFixture<AzureHostApp>, IClassFixture<ConvertLeadApp>
{
    [Fact]
    public async Task A_lead_converts_on_the_Durable_worker_with_replay_and_the_outcome_of_the_local_engine()
    {
        // The same lead (same data) in each host's database.
        var (mobile, email, company, openId) = (TestData.Mobile(), TestData.Email(), ConversionData.Company(), TestData.Id("openid"));
        var azureLead = await ConversionData.InsertLeadAsync(azure.Database.DataSource, mobile, email, company, openId);
        var localLead = await ConversionData.InsertLeadAsync(local.Database.DataSource, mobile, email, company, openId);
        var body = JsonSerializer.SerializeToUtf8Bytes(new { opportunity = new { name = "年度采购", amount = 120000.50m, stage = "closed_won" }, ownerId = "sales-7" });

        var (onAzure, azureStatus) = await ConvertAsync(azure.AsHost(), azureLead, body);
        var (onLocal, _) = await ConvertAsync(HostUnderTest.Local(local), localLead, body);

        Assert.Equal(ConversionOutcome.Converted, onAzure.Outcome);
        Assert.Equal(nameof(ConvertLeadOrchestrator), azureStatus.Name);
        // The orchestrator function ran again after its activity completed: a replay, on Durable's own history.
        Assert.True(azure.Functions.ExecutionsOf(azureStatus.InstanceId) > 1, $"executions: {azure.Functions.ExecutionsOf(azureStatus.InstanceId)}");
        // Stored in the core's JSON shape (camelCase, enums by name): the host's serializer reached Durable.
        Assert.Equal("converted", azureStatus.Output!.Value.GetProperty("outcome").GetString());
        Assert.Equal(azureLead, azureStatus.Input!.Value.GetProperty("leadId").GetGuid());

        await using (var conn = await azure.Database.DataSource.OpenConnectionAsync())
        {
            Assert.Equal(("converted", onAzure.ContactId, onAzure.AccountId, onAzure.OpportunityId), await conn.QuerySingleAsync<(string, Guid?, Guid?, Guid?)>(
                "select lead_status, converted_contact_id, converted_account_id, converted_opportunity_id from lead where lead_id = @azureLead", new { azureLead }));
            Assert.Equal(1, await conn.QuerySingleAsync<int>("select count(*)::int from contact where contact_id = @ContactId and mobile_phone = @mobile", new { onAzure.ContactId, mobile }));
            Assert.Equal(1, await conn.QuerySingleAsync<int>("select count(*)::int from account where account_id = @AccountId and account_name = @company", new { onAzure.AccountId, company }));
            Assert.Equal(1, await conn.QuerySingleAsync<int>("select count(*)::int from opportunity where opportunity_id = @OpportunityId and lead_id = @azureLead", new { onAzure.OpportunityId, azureLead }));
            // The outbox the relay sends to Event Hubs: three summary recalculations and the notification.
            Assert.Equal(
                [(Topics.SummaryCalculation, $"account:{onAzure.AccountId}"), (Topics.SummaryCalculation, $"contact:{onAzure.ContactId}"),
                 (Topics.SummaryCalculation, $"lead:{azureLead}"), (Topics.Notification, $"lead:{azureLead}")],
                (await conn.QueryAsync<(string, string)>("""
                    select topic, message_key from topic_message where message_key = any(@keys) order by topic desc, message_key
                    """, new { keys = new[] { $"lead:{azureLead}", $"contact:{onAzure.ContactId}", $"account:{onAzure.AccountId}" } })).ToList());
        }

        var snapshot = await SnapshotAsync(azure, onAzure);
        Assert.All([mobile, email, company, openId, "年度采购", "closed_won", "sales-7", "lead_converted"], part => Assert.Contains(part, snapshot));
        Assert.Equal(await SnapshotAsync(local, onLocal), snapshot);
    }

    [Fact]
    public async Task A_conversion_that_keeps_failing_is_retried_by_Durable_then_reads_as_failed_and_changes_nothing()
    {
        var leadId = await ConversionData.InsertLeadAsync(azure.Database.DataSource, TestData.Mobile(), null, ConversionData.Company());
        var conversion = azure.Services.GetRequiredService<LeadConversion>();
        var attempts = 0;
        conversion.BeforeCommit = command => command.Request.LeadId == leadId
            ? throw new InvalidOperationException($"Injected failure before commit #{Interlocked.Increment(ref attempts)}")
            : Task.CompletedTask;
        try
        {
            using var scope = azure.UseDurableClient();
            // Within the request's wait it answers 503; on a slow machine it may answer that the run goes on.
            var refused = await Record.ExceptionAsync(() => azure.Services.GetRequiredService<RequestLeadConversion>().RunAsync(ConversionRules.Parse(leadId, []), AuditActor.System, null, CancellationToken.None));
            if (refused is not null) Assert.Equal(503, Assert.IsType<ApiProblemException>(refused).Problem.Status);

            var status = await azure.Orchestrations.WaitForCompletionAsync(ConvertLeadOrchestrator.InstanceId(leadId), TimeSpan.FromSeconds(120));

            Assert.Equal(OrchestrationRuntimeStatus.Failed, status.RuntimeStatus);
            Assert.Null(status.Output);
            Assert.Contains("Injected failure before commit #4", status.FailureDetails!.ErrorMessage);
            Assert.Equal(ConvertLeadOrchestrator.Retry.MaxNumberOfAttempts, attempts);
            Assert.False((await conversion.GetStateAsync(leadId, CancellationToken.None))!.IsConverted);
        }
        finally
        {
            conversion.BeforeCommit = null;
        }
    }

    /// <summary>The convert request as both hosts' HTTP functions serve it (start the lead's singleton, wait), then its final status.</summary>
    static async Task<(ConversionResult Result, OrchestrationStatus Status)> ConvertAsync(HostUnderTest host, Guid leadId, byte[] body)
    {
        using var scope = host.ClientScope();
        var answer = await host.Get<RequestLeadConversion>().RunAsync(ConversionRules.Parse(leadId, body), AuditActor.System, null, CancellationToken.None);
        var instanceId = ConvertLeadOrchestrator.InstanceId(leadId);
        // A busy machine may take longer than the request's own wait: the run goes on, so wait for it here.
        var status = await host.Orchestrations.WaitForCompletionAsync(instanceId, TimeSpan.FromSeconds(90));
        Assert.True(status.RuntimeStatus == OrchestrationRuntimeStatus.Completed, $"{status.RuntimeStatus}: {status.FailureDetails}");
        var result = status.ReadOutputAs<ConversionResult>()!;
        if (answer is ConversionAnswer.Done done) Assert.Equal(done.Ids, new Converted(result.LeadId, result.ContactId, result.AccountId, result.OpportunityId));
        return (result, status);
    }

    /// <summary>
    /// What the conversion left in the database and answered, as JSON with its ids named by role (the ids differ
    /// between the hosts, the rest must not).
    /// </summary>
    static async Task<string> SnapshotAsync(CdpBackend host, ConversionResult result)
    {
        await using var conn = await host.Database.DataSource.OpenConnectionAsync();
        var rows = await conn.QuerySingleAsync<string>("""
            select jsonb_build_object(
              'lead', (select to_jsonb(x) from (select lead_status, converted_at is not null as converted, converted_contact_id,
                         converted_account_id, converted_opportunity_id from lead where lead_id = @LeadId) x),
              'contact', (select to_jsonb(x) from (select contact_id, contact_name, mobile_phone, email, title, city, wechat_id,
                         wecom_external_user_id, primary_account_id from contact where contact_id = @ContactId) x),
              'identities', (select jsonb_agg(to_jsonb(x) order by x.identity_type, x.channel_user_id) from (select channel_id,
                         identity_type, channel_user_id, is_verified from contact_channel_identity where contact_id = @ContactId) x),
              'account', (select to_jsonb(x) from (select account_name, name_normalized, name_short, unified_social_credit_code, city,
                         account_status from account where account_id = @AccountId) x),
              'relation', (select to_jsonb(x) from (select role_in_account, decision_level, is_primary_contact
                         from account_contact_relation where account_id = @AccountId and contact_id = @ContactId) x),
              'opportunity', (select to_jsonb(x) from (select account_id, contact_id, lead_id, opportunity_name, amount, stage,
                         is_closed, is_won, owner_id from opportunity where opportunity_id = @OpportunityId) x),
              'notification', (select payload::jsonb - 'convertedAt' from topic_message
                         where topic = 'notification' and message_key = 'lead:' || @LeadId::text))::text
            """, result);
        var snapshot = $"{JsonSerializer.Serialize(result, CdpJson.Options)}\n{rows}";
        foreach (var (id, role) in new[] { (result.LeadId, "{lead}"), (result.ContactId, "{contact}"), (result.AccountId, "{account}"), (result.OpportunityId, "{opportunity}") })
            if (id is { } value) snapshot = snapshot.Replace(value.ToString(), role, StringComparison.OrdinalIgnoreCase);
        return snapshot;
    }
}
