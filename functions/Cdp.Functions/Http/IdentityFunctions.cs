using Cdp.Orchestrations.Conversion;
using Cdp.Shared.Identity;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;

namespace Cdp.Functions.Http;

/// <summary>The data steward's work: the identity review queue and lead conversion.</summary>
public sealed class IdentityFunctions(AzureApi api)
{
    [Function(nameof(IdentityRoutes.ListIdentityReviews))]
    public Task<IResult> ListIdentityReviews(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = IdentityRoutes.ReviewsPath)] HttpRequest request) =>
        api.RunAsync(IdentityRoutes.ListIdentityReviews, request);

    [Function(nameof(IdentityRoutes.ResolveIdentityReview))]
    public Task<IResult> ResolveIdentityReview(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = IdentityRoutes.ResolvePath)] HttpRequest request, string reviewId) =>
        api.RunAsync(IdentityRoutes.ResolveIdentityReview, request, ("reviewId", reviewId));

    [Function(nameof(ConversionRoutes.ConvertLead))]
    public Task<IResult> ConvertLead(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = ConversionRoutes.ConvertPath)] HttpRequest request, string leadId,
        [DurableClient] DurableTaskClient client) =>
        api.RunAsync(ConversionRoutes.ConvertLead, request, client, ("leadId", leadId));
}
