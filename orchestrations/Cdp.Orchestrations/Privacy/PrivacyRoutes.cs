using Cdp.Shared.Access;
using Cdp.Shared.Api;
using Cdp.Shared.Privacy;
using Microsoft.AspNetCore.Http;

namespace Cdp.Orchestrations.Privacy;

/// <summary>API.md "Privacy (PIPL)": a person's data exported or erased across Postgres, Redis and ClickHouse; privacy:manage, audited.</summary>
public static class PrivacyRoutes
{
    public const string ExportPath = "privacy/subjects/export";
    public const string ErasePath = "privacy/subjects/erase";
    public const string RequestPath = "privacy/requests/{requestId:guid}";
    const int MaxBodyBytes = 16 * 1024;

    /// <summary>200 with every record held about the person named by mobile and/or email; 422 without either or malformed.</summary>
    public static readonly ApiRoute ExportSubject = ApiRoute.Post(nameof(ExportSubject), ExportPath, Permissions.PrivacyManage, async call =>
    {
        var subject = PrivacySubject.Parse(await call.JsonAsync<SubjectRequest>(MaxBodyBytes), needReason: false);
        return ApiResults.Json(await call.Service<Shared.Privacy.ExportSubject>().RunAsync(subject, call.Actor, call.Aborted));
    });

    /// <summary>202 {"requestId"}: the request is recorded (audited) and its erasure started; GET the request for its progress.</summary>
    public static readonly ApiRoute EraseSubject = ApiRoute.Post(nameof(EraseSubject), ErasePath, Permissions.PrivacyManage, async call =>
    {
        var body = await call.JsonAsync<SubjectRequest>(MaxBodyBytes);
        var subject = PrivacySubject.Parse(body, needReason: true);
        var id = await call.Service<Shared.Privacy.EraseSubject>().RequestAsync(subject, body.Reason!.Trim(), call.Actor, call.Aborted);
        // Recorded first: a crash before the start leaves the request for housekeeping to resume.
        await EraseSubjectOrchestrator.StartAsync(call.Service<IOrchestrationClient>(), id);
        return ApiResults.At(StatusCodes.Status202Accepted, $"{call.BaseUrl}/api/privacy/requests/{id}", new { requestId = id });
    });

    public static readonly ApiRoute GetPrivacyRequest = ApiRoute.Get(nameof(GetPrivacyRequest), RequestPath, Permissions.PrivacyManage, async call =>
    {
        var id = call.RouteId("requestId");
        return ApiResults.Json(await call.Service<Shared.Privacy.EraseSubject>().GetAsync(id, call.Aborted)
            ?? throw new ApiProblemException(ApiProblem.NotFound($"No privacy request {id}.")));
    });

    public static IEnumerable<ApiRoute> All => [ExportSubject, EraseSubject, GetPrivacyRequest];
}
