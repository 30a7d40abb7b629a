using Cdp.Orchestrations.Conversion;
using Cdp.Orchestrations.Privacy;
using Cdp.Orchestrations.Summaries;
using Cdp.Orchestrations.VirtualNumbers;
using Cdp.Shared.Access;
using Cdp.Shared.Api;
using Cdp.Shared.Channels.WeCom;
using Cdp.Shared.Customers;
using Cdp.Shared.Events;
using Cdp.Shared.Identity;
using Cdp.Shared.Imports;
using Cdp.Shared.Ingestion;
using Cdp.Shared.Operations;
using Cdp.Shared.Operations.Overview;
using Cdp.Shared.Search;
using Cdp.Shared.Sync;

namespace Cdp.Orchestrations;

/// <summary>The product's whole HTTP surface under /api: the local host maps these, the Azure host has a trigger for each.</summary>
public static class ApiRoutes
{
    public static IReadOnlyList<ApiRoute> All { get; } =
    [
        .. IngestionRoutes.All, .. ImportRoutes.All, .. EventRoutes.All, .. IdentityRoutes.All, .. CustomerRoutes.All, .. SearchRoutes.All,
        .. SyncRoutes.All, .. ConversionRoutes.All, .. SummaryRoutes.All, .. OrchestrationRoutes.All, .. OperationsRoutes.All, .. OpsRoutes.All,
        .. AccessRoutes.All, .. PrivacyRoutes.All, .. WeComRoutes.All, .. VirtualNumberRoutes.All, .. CorsRoutes.All,
    ];
}
