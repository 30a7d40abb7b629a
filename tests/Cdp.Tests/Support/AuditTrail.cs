using System.Net.Http.Json;
using Cdp.Shared;
using Cdp.Shared.Access;

namespace Cdp.Tests.Support;

/// <summary>The audit rows of one entity, read through GET /api/audit as an auditor would.</summary>
public static class AuditTrail
{
    public static async Task<IReadOnlyList<AuditRecord>> OfAsync(CdpApp app, object entityId, string action) =>
        (await app.Client.GetFromJsonAsync<List<AuditRecord>>(
            $"/api/audit?entityId={Uri.EscapeDataString(entityId.ToString()!)}&action={Uri.EscapeDataString(action)}", CdpJson.Options))!;
}
