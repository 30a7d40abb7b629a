using Cdp.Shared.Imports;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace Cdp.Functions.Http;

/// <summary>
/// Bulk imports. The body streams through to Postgres; the Functions host caps request bodies itself
/// (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT, 100 MB by default), below Imports:MaxBodyBytes: raise it for large first loads.
/// </summary>
public sealed class ImportFunctions(AzureApi api)
{
    [Function(nameof(ImportRoutes.StartImport))]
    public Task<IResult> StartImport(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = ImportRoutes.ImportsPath)] HttpRequest request) =>
        api.RunAsync(ImportRoutes.StartImport, request);

    [Function(nameof(ImportRoutes.GetImport))]
    public Task<IResult> GetImport(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = ImportRoutes.ImportPath)] HttpRequest request, string importId) =>
        api.RunAsync(ImportRoutes.GetImport, request, ("importId", importId));
}
