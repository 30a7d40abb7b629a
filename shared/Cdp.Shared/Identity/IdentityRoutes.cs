using Cdp.Shared.Access;
using Microsoft.AspNetCore.Http;
using Cdp.Shared.Api;

namespace Cdp.Shared.Identity;

public static class IdentityRoutes
{
    public const string ReviewsPath = "identity/reviews";
    public const string ResolvePath = "identity/reviews/{reviewId:guid}/resolve";

    /// <summary>The queue with each incoming record, masked unless the caller holds pii:reveal; the read is audited.</summary>
    public static readonly ApiRoute ListIdentityReviews = ApiRoute.Get(nameof(ListIdentityReviews), ReviewsPath, Permissions.IdentityReview, async call =>
    {
        var items = await call.Service<IdentityReviews>().ListAsync(ReviewRequests.Status(call.Query("status")), call.QueryInt("limit") ?? 100, call.Aborted);
        var masked = call.MasksPii();
        await call.AuditPiiReadAsync("identity_review", null, new { results = items.Count, masked });
        return ApiResults.Json(masked ? items.Select(i => i.Masked()).ToList() : items);
    });

    public static readonly ApiRoute ResolveIdentityReview = ApiRoute.Post(nameof(ResolveIdentityReview), ResolvePath, Permissions.IdentityReview, async call =>
    {
        var reviewId = call.RouteId("reviewId");
        var body = await call.JsonAsync<ResolveReviewBody>(ReviewRequests.MaxBodyBytes);
        var result = await call.Service<IdentityReviews>().ResolveAsync(reviewId, ReviewRequests.Decision(body.Decision, body.TargetId), call.Actor, call.Aborted);
        return ApiResults.Json(ReviewRequests.Outcome(reviewId, result));
    });

    public static IEnumerable<ApiRoute> All => [ListIdentityReviews, ResolveIdentityReview];
}
