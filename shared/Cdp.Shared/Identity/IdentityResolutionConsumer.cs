using Cdp.Shared.Customers;
using Cdp.Shared.Ingestion;
using Cdp.Shared.Messaging;
using Cdp.Shared.Telemetry;
using Npgsql;

namespace Cdp.Shared.Identity;

/// <summary>identity-resolution consumer: one cleansed record -> one resolved entity or review item.</summary>
public sealed class IdentityResolutionConsumer(IdentityResolver resolver, NpgsqlDataSource db, CustomerViewCache views) : ITopicHandler
{
    public string Topic => Topics.IdentityResolution;

    public async Task HandleAsync(TopicMessage message, CancellationToken ct)
    {
        var request = message.Read<IdentityResolutionRequested>();
        var outcome = await resolver.ResolveAsync(request.IngestionId, request.Record, null, ct);
        await views.InvalidateAsync(outcome.ChangedCustomers());
    }

    public Task OnDeadLetteredAsync(TopicMessage message, string error, CancellationToken ct)
    {
        var request = message.Read<IdentityResolutionRequested>();
        CdpTelemetry.Failed.Add(1, new KeyValuePair<string, object?>("channel", request.Record.Record.Channel), new KeyValuePair<string, object?>("stage", "identity"));
        return IngestionReceipts.FailAsync(db, request.IngestionId, "identity", error, ct);
    }
}
