using Cdp.Shared.Api;

namespace Cdp.Shared.Identity;

/// <summary>Body of <c>POST /api/identity/reviews/{id}/resolve</c>.</summary>
public sealed record ResolveReviewBody(string? Decision, Guid? TargetId);

/// <summary>The review API's input rules and outcome mapping, shared by both hosts.</summary>
public static class ReviewRequests
{
    /// <summary>A decision is a word and a GUID: a larger body is refused (413) before it is parsed.</summary>
    public const int MaxBodyBytes = 4 * 1024;

    public static string Status(string? status) => status switch
    {
        null or "" or "open" => "open",
        "resolved" => "resolved",
        _ => throw new ApiProblemException(ApiProblem.Unprocessable(
            new Dictionary<string, string[]> { ["status"] = ["Must be open or resolved."] })),
    };

    public static ReviewDecision Decision(string? decision, Guid? targetId) => decision switch
    {
        "merge" when targetId is { } target => new ReviewDecision.Merge(target),
        "merge" => throw ApiProblemException.Invalid("targetId", "Required with decision 'merge': the account to merge into."),
        "create" => new ReviewDecision.Create(),
        _ => throw ApiProblemException.Invalid("decision", "Must be 'merge' (with targetId) or 'create'."),
    };

    public static ResolutionOutcome Outcome(Guid reviewId, ResolveReviewResult result) => result switch
    {
        ResolveReviewResult.Resolved r => r.Outcome,
        ResolveReviewResult.NotFound => throw new ApiProblemException(ApiProblem.NotFound($"No review {reviewId}.")),
        ResolveReviewResult.Conflict c => throw new ApiProblemException(ApiProblem.Conflict(c.Message)),
        ResolveReviewResult.Invalid i => throw ApiProblemException.Invalid("targetId", i.Message),
        _ => throw new InvalidOperationException(result.GetType().Name),
    };

}
