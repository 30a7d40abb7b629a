using Cdp.Orchestrations;
using Cdp.Shared.Access;
using Cdp.Shared.Api;
using Cdp.Shared.Channels.WeCom;
using Cdp.Shared.Customers;
using Cdp.Shared.Ingestion;
using Cdp.Shared.Sync;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Cdp.Functions.Local;

/// <summary>
/// What the OpenAPI document says about the routes the console and the sidebar read (their summary and query
/// parameters; the router knows neither). The routes themselves come from <see cref="ApiRoutes.All"/>.
/// </summary>
static class ApiDocs
{
    const string Paged = "Newest first. Paged: 'limit' rows (1-1000, default 100); when more follow, the response header "
        + Paging.NextCursorHeader + " holds the 'cursor' of the next page. The body is a JSON array.";

    static readonly (string Name, string Summary, (string Name, string Description)[] Query)[] Routes =
    [
        (WeComRoutes.GetJsSdkConfig.Name, "Signatures for wx.config and wx.agentConfig of a page of this site (customers:read).",
            [("url", "The page's location.href without the part from '#': absolute http(s), this site's host or an Auth:AllowedOrigins origin.")]),
        (CustomerRoutes.GetContactByExternalUser.Name,
            "The contact 360 of a WeCom external contact; a signed-in staff member only for a contact they follow (else 404).", []),
        (WeComRoutes.ListCorpTags.Name, "The company's live WeCom corp tag groups, for the sidebar's tag picker (customers:read).", []),
        (SyncRoutes.ListContactSyncTasks.Name, "The contact's tag and follow-up pushes, newest first (customers:read, the contact visible to the caller).",
            [("limit", "1-100, default 20")]),
        (SyncRoutes.RetryContactSyncTask.Name, "Re-drives a failed push of this contact (customers:write); 409 unless it failed.", []),
        (IngestionRoutes.ListIngestions.Name, "Ingestion receipts (ingestions:read). " + Paged,
            [("channel", "crm, wecom, wechat or erp"), ("status", "queued, processed, review, rejected or failed"), ("sourceId", "the source record's id"),
             ("from", "received at or after (ISO 8601)"), ("to", "received before (ISO 8601)"), .. PageParameters]),
        (OrchestrationRoutes.ListOrchestrations.Name, "Orchestration instances without inputs and outputs (orchestrations:read). " + Paged,
            [("status", "Pending, Running, Completed, Failed or Terminated"), ("name", "the orchestrator's name"),
             ("createdFrom", "created at or after (ISO 8601)"), ("createdTo", "created before (ISO 8601)"), .. PageParameters]),
        (AccessRoutes.ListAudit.Name, "The audit trail (audit:read). " + Paged,
            [("actor", "e.g. staff:zhangsan, key:<id>"), ("action", "e.g. staff.set, pii.read"), ("entityId", "the entity's id"),
             ("from", "at or after (ISO 8601)"), ("to", "before (ISO 8601)"), .. PageParameters]),
    ];

    static (string, string)[] PageParameters => [("limit", "1-1000, default 100"), ("cursor", "the " + Paging.NextCursorHeader + " of the previous page")];

    public static void Describe(OpenApiOptions options) => options.AddOperationTransformer((operation, context, _) =>
    {
        var name = context.Description.ActionDescriptor.EndpointMetadata.OfType<IEndpointNameMetadata>().FirstOrDefault()?.EndpointName;
        foreach (var route in Routes.Where(r => r.Name == name))
        {
            operation.Summary = route.Summary;
            operation.Parameters ??= [];
            foreach (var (parameter, description) in route.Query)
                operation.Parameters.Add(new OpenApiParameter
                {
                    Name = parameter, In = ParameterLocation.Query, Description = description, Schema = new OpenApiSchema { Type = JsonSchemaType.String },
                });
        }
        return Task.CompletedTask;
    });
}
