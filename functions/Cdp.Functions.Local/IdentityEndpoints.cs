using Cdp.Shared.Api;
using Cdp.Shared.Identity;

namespace Cdp.Functions.Local;

public static class IdentityEndpoints
{
    public static void MapIdentityReviews(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/identity/reviews", async (string? status, int? limit, IdentityReviews reviews, CancellationToken ct) =>
            Results.Ok(await reviews.ListAsync(ReviewRequests.Status(status), limit ?? 100, ct)));

        app.MapPost("/api/identity/reviews/{reviewId:guid}/resolve", async (Guid reviewId, ResolveReviewBody body, IdentityReviews reviews, CancellationToken ct) =>
            Results.Ok(ReviewRequests.Outcome(reviewId, await reviews.ResolveAsync(reviewId, ReviewRequests.Decision(body.Decision, body.TargetId), ct))));
    }
}
