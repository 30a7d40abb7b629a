namespace Cdp.Orchestrations;

/// <summary>
/// Durable Functions' check-status body (the 202 a started orchestration answers with): where to poll, raise an
/// event and terminate. The Azure host takes the links from Durable itself (they carry its task hub and key).
/// </summary>
public sealed record CheckStatus(string Id, string StatusQueryGetUri, string SendEventPostUri, string TerminatePostUri)
{
    /// <summary>The links under <paramref name="baseUrl"/> ("http://host:port") as the Functions host lays them out.</summary>
    public static CheckStatus For(string baseUrl, string instanceId)
    {
        var instance = $"{baseUrl}/runtime/webhooks/durabletask/instances/{Uri.EscapeDataString(instanceId)}";
        return new(instanceId, instance, instance + "/raiseEvent/{eventName}", instance + "/terminate?reason={text}");
    }
}
