using Cdp.Orchestrations;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;

namespace Cdp.Functions.Http;

/// <summary>
/// The core's check-status body with Durable's own links (they carry the task hub and the system key the Functions
/// host's /runtime/webhooks/durabletask routes want).
/// </summary>
static class CheckStatusLinks
{
    public static IResult Accepted(DurableTaskClient client, string instanceId)
    {
        var payload = client.CreateHttpManagementPayload(instanceId);
        var status = new CheckStatus(instanceId, payload.StatusQueryGetUri!, payload.SendEventPostUri!, payload.TerminatePostUri!);
        return HttpBodies.At(StatusCodes.Status202Accepted, status.StatusQueryGetUri, status);
    }
}
