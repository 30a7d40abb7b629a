using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Cdp.Shared.Sync;

/// <summary>
/// The external finance/CRM system: POST {Sync:Finance:BaseUrl}/changes with the newest change of the entity.
/// The receiver should treat (entityId, changeSeq) as idempotency key and ignore a changeSeq lower than one it has.
/// </summary>
public sealed class FinanceTarget(HttpClient http, IOptions<SyncOptions> options) : ISyncTarget
{
    public string Name => SyncTargetNames.Finance;

    public async Task<SyncPushResult> PushAsync(SyncChange change, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(options.Value.Finance.BaseUrl) || http.BaseAddress is null)
            throw new SyncRejectedException("Sync:Finance:BaseUrl is not set; finance changes cannot be pushed.");
        using var payload = JsonDocument.Parse(change.Latest.PayloadJson);
        using var response = await http.PostAsJsonAsync("changes", new
        {
            syncTaskId = change.Latest.SyncTaskId,
            entityType = change.EntityType,
            entityId = change.EntityId,
            changeSeq = change.Latest.ChangeSeq,
            payload = payload.RootElement,
        }, CdpJson.Options, ct);
        response.EnsureSuccessStatusCode();
        return SyncPushResult.Pushed;
    }
}
