using Cdp.Shared.Cleansing;
using Cdp.Shared.Customers;
using Cdp.Shared.Ingestion;
using Cdp.Shared.Messaging;
using Cdp.Shared.Telemetry;
using Npgsql;

namespace Cdp.Shared.Identity;

/// <summary>
/// identity-resolution consumer: one cleansed record -> one resolved entity or review item. A claimed round is
/// resolved as a batch (<see cref="IdentityResolver.ResolveBatchAsync"/>), each message settled on its own.
/// </summary>
public sealed class IdentityResolutionConsumer(IdentityResolver resolver, NpgsqlDataSource db, CustomerViewCache views) : ITopicKeyedBatchHandler
{
    public string Topic => Topics.IdentityResolution;

    public async Task HandleAsync(TopicMessage message, CancellationToken ct)
    {
        var request = message.Read<IdentityResolutionRequested>();
        var outcome = await resolver.ResolveAsync(request.IngestionId, request.Record, null, ct);
        await views.InvalidateAsync(outcome.ChangedCustomers());
    }

    public async Task<IReadOnlyList<Exception?>> HandleBatchAsync(IReadOnlyList<TopicMessage> batch, CancellationToken ct)
    {
        var errors = new Exception?[batch.Count];
        var items = new List<(Guid IngestionId, CleanRecord Record)>(batch.Count);
        var positions = new List<int>(batch.Count);
        for (var i = 0; i < batch.Count; i++)
        {
            try
            {
                var request = batch[i].Read<IdentityResolutionRequested>();
                items.Add((request.IngestionId, request.Record));
                positions.Add(i);
            }
            catch (Exception e)
            {
                errors[i] = e;
            }
        }

        var results = await resolver.ResolveEachAsync(items, ct);
        var changed = new List<CustomerRef>();
        for (var j = 0; j < results.Count; j++)
        {
            if (results[j].Error is { } error) errors[positions[j]] = error;
            else changed.AddRange(results[j].Outcome!.ChangedCustomers());
        }

        await views.InvalidateAsync(changed);
        return errors;
    }

    public Task OnDeadLetteredAsync(TopicMessage message, string error, CancellationToken ct)
    {
        var request = message.Read<IdentityResolutionRequested>();
        CdpTelemetry.Failed.Add(1, new KeyValuePair<string, object?>("channel", request.Record.Record.Channel), new KeyValuePair<string, object?>("stage", "identity"));
        return IngestionReceipts.FailAsync(db, request.IngestionId, "identity", error, ct);
    }
}
