using Cdp.Shared.Identity;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace Cdp.Functions.Http;

public sealed class IdentityFunctions(IdentityReviews reviews)
{
    [Function("ListIdentityReviews")]
    public async Task<IResult> List(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "identity/reviews")] HttpRequest request, FunctionContext context) =>
        HttpBodies.Json(await reviews.ListAsync(
            ReviewRequests.Status(request.Query["status"].FirstOrDefault()), HttpBodies.QueryInt(request, "limit") ?? 100, context.CancellationToken));

    [Function("ResolveIdentityReview")]
    public async Task<IResult> Resolve(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "identity/reviews/{reviewId:guid}/resolve")] HttpRequest request, Guid reviewId,
        FunctionContext context)
    {
        var body = await HttpBodies.ReadJsonAsync<ResolveReviewBody>(request, context.CancellationToken);
        var result = await reviews.ResolveAsync(reviewId, ReviewRequests.Decision(body.Decision, body.TargetId), context.CancellationToken);
        return HttpBodies.Json(ReviewRequests.Outcome(reviewId, result));
    }
}
