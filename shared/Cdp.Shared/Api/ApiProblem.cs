namespace Cdp.Shared.Api;

/// <summary>
/// An RFC 9457 problem the caller caused (or a dependency that is down). Use cases throw it; each host turns it
/// into application/problem+json with the same status, so no decision about errors lives in a host.
/// </summary>
public sealed record ApiProblem(int Status, string Title, string? Detail = null, IReadOnlyDictionary<string, string[]>? Errors = null)
{
    /// <summary>Further members of the problem object (RFC 9457 extensions), e.g. the ids a conflict is about.</summary>
    public IReadOnlyDictionary<string, object?>? Extensions { get; init; }

    /// <summary>Response headers the problem needs a caller to act on (Retry-After); both hosts send them.</summary>
    public IReadOnlyDictionary<string, string>? Headers { get; init; }

    public static ApiProblem BadRequest(string detail) => new(400, "Malformed request", detail);
    public static ApiProblem Unauthorized(string detail) => new(401, "Unauthorized", detail);
    public static ApiProblem Forbidden(string detail) => new(403, "Forbidden", detail);
    public static ApiProblem NotFound(string detail) => new(404, "Not found", detail);
    public static ApiProblem Conflict(string detail) => new(409, "Conflict", detail);
    public static ApiProblem TooLarge(long limit) => new(413, "Payload too large", $"The body must be at most {limit} bytes.");
    public static ApiProblem UnsupportedMediaType(string expected) => new(415, "Unsupported media type", $"Send {expected}.");
    public static ApiProblem Unprocessable(IReadOnlyDictionary<string, string[]> errors, string? detail = null) =>
        new(422, "The request breaks a rule", detail ?? "See errors.", errors);
    public static ApiProblem Unavailable(string detail) => new(503, "A dependency is unavailable", detail);

    /// <summary>429 with Retry-After in whole seconds (at least 1).</summary>
    public static ApiProblem TooManyRequests(TimeSpan retryAfter, string detail) =>
        new(429, "Too many requests", detail)
        {
            Headers = new Dictionary<string, string> { ["Retry-After"] = Math.Max(1, (long)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture) },
        };

    /// <summary>
    /// The problem an exception stands for, as both hosts answer it: the use case's own problem, or 503 for a storage
    /// dependency that is not answering. Null means a bug (the host logs it and answers 500).
    /// </summary>
    public static ApiProblem? ForException(Exception exception) => exception switch
    {
        ApiProblemException p => p.Problem,
        Npgsql.NpgsqlException { IsTransient: true } or System.Net.Sockets.SocketException or TimeoutException =>
            Unavailable("A storage dependency is not answering; retry shortly."),
        _ => null,
    };

    /// <summary>The RFC 9457 members (type, title, status, detail, errors, extensions) for a host that writes the JSON itself.</summary>
    public IReadOnlyDictionary<string, object?> ToBody()
    {
        var body = new Dictionary<string, object?>
        {
            ["type"] = $"https://httpwg.org/specs/rfc9110.html#status.{Status}",
            ["title"] = Title,
            ["status"] = Status,
        };
        if (Detail is not null) body["detail"] = Detail;
        if (Errors is not null) body["errors"] = Errors;
        foreach (var (name, value) in Extensions ?? new Dictionary<string, object?>()) body[name] = value;
        return body;
    }
}

public sealed class ApiProblemException(ApiProblem problem) : Exception(problem.Detail ?? problem.Title)
{
    public ApiProblem Problem { get; } = problem;

    /// <summary>422 naming one field and what is wrong with it.</summary>
    public static ApiProblemException Invalid(string field, string message) =>
        new(ApiProblem.Unprocessable(new Dictionary<string, string[]> { [field] = [message] }));
}
