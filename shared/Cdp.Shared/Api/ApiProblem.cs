namespace Cdp.Shared.Api;

/// <summary>
/// An RFC 9457 problem the caller caused (or a dependency that is down). Use cases throw it; each host turns it
/// into application/problem+json with the same status, so no decision about errors lives in a host.
/// </summary>
public sealed record ApiProblem(int Status, string Title, string? Detail = null, IReadOnlyDictionary<string, string[]>? Errors = null)
{
    /// <summary>Further members of the problem object (RFC 9457 extensions), e.g. the ids a conflict is about.</summary>
    public IReadOnlyDictionary<string, object?>? Extensions { get; init; }

    public static ApiProblem BadRequest(string detail) => new(400, "Malformed request", detail);
    public static ApiProblem Unauthorized(string detail) => new(401, "Unauthorized", detail);
    public static ApiProblem NotFound(string detail) => new(404, "Not found", detail);
    public static ApiProblem Conflict(string detail) => new(409, "Conflict", detail);
    public static ApiProblem TooLarge(long limit) => new(413, "Payload too large", $"The body must be at most {limit} bytes.");
    public static ApiProblem UnsupportedMediaType(string expected) => new(415, "Unsupported media type", $"Send {expected}.");
    public static ApiProblem Unprocessable(IReadOnlyDictionary<string, string[]> errors, string? detail = null) =>
        new(422, "The request breaks a rule", detail ?? "See errors.", errors);
    public static ApiProblem Unavailable(string detail) => new(503, "A dependency is unavailable", detail);
}

public sealed class ApiProblemException(ApiProblem problem) : Exception(problem.Detail ?? problem.Title)
{
    public ApiProblem Problem { get; } = problem;
}
