using Cdp.Shared.Access;
using System.Text.Json;
using Cdp.Shared.Api;
using Microsoft.AspNetCore.Http;

namespace Cdp.Orchestrations;

/// <summary>
/// The product's own orchestration status and management routes (API.md), the same on both hosts. The local host also
/// serves them under Durable's /runtime/webhooks/durabletask/instances paths for tools written against Durable.
/// </summary>
public static class OrchestrationRoutes
{
    public const string ListPath = "orchestrations";
    public const string InstancePath = "orchestrations/{instanceId}";
    public const string TerminatePath = "orchestrations/{instanceId}/terminate";
    public const string RaiseEventPath = "orchestrations/{instanceId}/raiseEvent/{eventName}";

    /// <summary>The largest event payload raised through HTTP; events carry decisions, not documents.</summary>
    public const int MaxEventBodyBytes = 64 * 1024;

    /// <summary>The status body (API.md), runtimeStatus spelt as Durable Functions spells it ("Running", not the core's camelCase enums).</summary>
    public sealed record InstanceStatus(
        string Name, string InstanceId, string RuntimeStatus, JsonElement? Input, JsonElement? CustomStatus,
        JsonElement? Output, DateTimeOffset CreatedTime, DateTimeOffset LastUpdatedTime);

    public static readonly ApiRoute GetOrchestration = ApiRoute.Get(nameof(GetOrchestration), InstancePath, Permissions.OrchestrationsRead, async call =>
    {
        var s = await ExistingAsync(call);
        return ApiResults.Json(new InstanceStatus(
            s.Name, s.InstanceId, s.RuntimeStatus.ToString(), s.Input, s.CustomStatus, s.Output, s.CreatedTime, s.LastUpdatedTime));
    });

    /// <summary>
    /// GET /api/orchestrations?status=&amp;name=&amp;createdFrom=&amp;createdTo=&amp;limit=&amp;cursor=: instances without
    /// their inputs and outputs (GET /api/orchestrations/{id} has them), paged as <see cref="Paging"/> says.
    /// </summary>
    public static readonly ApiRoute ListOrchestrations = ApiRoute.Get(nameof(ListOrchestrations), ListPath, Permissions.OrchestrationsRead, async call =>
    {
        var status = call.Query("status") is { Length: > 0 } s
            ? Enum.TryParse<OrchestrationRuntimeStatus>(s, ignoreCase: true, out var parsed) && Enum.IsDefined(parsed) && !s.Any(char.IsDigit) ? parsed
              : throw ApiProblemException.Invalid("status", $"One of {string.Join(", ", Enum.GetNames<OrchestrationRuntimeStatus>())}.")
            : (OrchestrationRuntimeStatus?)null;
        var name = call.Query("name") is { Length: > 0 } n
            ? n.Length <= 200 && !n.Contains('\0', StringComparison.Ordinal) ? n : throw ApiProblemException.Invalid("name", "At most 200 characters, no NUL.")
            : null;
        var query = new OrchestrationListQuery(status, name, call.QueryTime("createdFrom"), call.QueryTime("createdTo"), call.Limit(), call.Query("cursor"));
        return Paging.Json(call, await call.Service<IOrchestrationClient>().ListAsync(query, call.Aborted));
    });

    /// <summary>Terminate and raise event change a run outside any transaction of ours: the audit row follows the change.</summary>
    public static readonly ApiRoute TerminateOrchestration = ApiRoute.Post(nameof(TerminateOrchestration), TerminatePath, Permissions.OrchestrationsManage, async call =>
    {
        var status = await ExistingAsync(call);
        var reason = call.Query("reason");
        await call.Service<IOrchestrationClient>().TerminateAsync(status.InstanceId, reason);
        // Whether a reason was given, not the reason: it is free text.
        await call.Service<AuditLog>().WriteAsync(call.Actor.Did("orchestration.terminate", "orchestration", status.InstanceId,
            new { name = status.Name, runtimeStatus = status.RuntimeStatus.ToString(), reasonGiven = !string.IsNullOrEmpty(reason) }), call.Aborted);
        return Results.Accepted();
    });

    public static readonly ApiRoute RaiseOrchestrationEvent = ApiRoute.Post(nameof(RaiseOrchestrationEvent), RaiseEventPath, Permissions.OrchestrationsManage, async call =>
    {
        var status = await ExistingAsync(call);
        JsonElement? data = null;
        var body = await call.BodyAsync(MaxEventBodyBytes);
        if (body.Length > 0)
        {
            using var doc = JsonText.Parse(body);
            data = doc.RootElement.Clone();
        }
        var eventName = call.Route("eventName");
        await call.Service<IOrchestrationClient>().RaiseEventAsync(status.InstanceId, eventName, data);
        // The event's size, not its data: an approval may carry a person's details.
        await call.Service<AuditLog>().WriteAsync(call.Actor.Did("orchestration.raise_event", "orchestration", status.InstanceId,
            new { name = status.Name, eventName, dataBytes = body.Length }), call.Aborted);
        return Results.Accepted();
    });

    public static IEnumerable<ApiRoute> All => [ListOrchestrations, GetOrchestration, TerminateOrchestration, RaiseOrchestrationEvent];

    /// <summary>Durable's management paths (local host only; on Azure the Functions host owns them and wants its system key).</summary>
    public const string DurablePrefix = "runtime/webhooks/durabletask/instances/";

    public static IEnumerable<ApiRoute> DurableStyle =>
    [
        GetOrchestration.At("DurableGetInstance", DurablePrefix + "{instanceId}"),
        TerminateOrchestration.At("DurableTerminateInstance", DurablePrefix + "{instanceId}/terminate"),
        RaiseOrchestrationEvent.At("DurableRaiseEvent", DurablePrefix + "{instanceId}/raiseEvent/{eventName}"),
    ];

    static async Task<OrchestrationStatus> ExistingAsync(ApiCall call)
    {
        var instanceId = call.Route("instanceId");
        return await call.Service<IOrchestrationClient>().GetStatusAsync(instanceId)
            ?? throw new ApiProblemException(ApiProblem.NotFound($"No orchestration instance '{instanceId}'."));
    }
}
