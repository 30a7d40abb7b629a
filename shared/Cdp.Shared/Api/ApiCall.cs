using Microsoft.AspNetCore.Http;
using System.Globalization;
using Cdp.Shared.Access;
using Microsoft.Extensions.DependencyInjection;

namespace Cdp.Shared.Api;

/// <summary>
/// A request as a route reads it, with the rules every route shares: 404 for a malformed id, 400 for a malformed number
/// or JSON, 415 for a body that is not JSON, 413 above the route's limit. Route values come from the host's router
/// (local) or from the trigger's binding (Azure); either way they sit in <see cref="HttpRequest.RouteValues"/>.
/// </summary>
public sealed class ApiCall(HttpContext http, Caller caller)
{
    /// <summary>The body limit of a route that names none: commands (tags, follow-ups, decisions) are small.</summary>
    public const int DefaultJsonBodyBytes = 1024 * 1024;

    public HttpContext Http => http;

    /// <summary>Who is calling, admitted to this route by <see cref="ApiSurface"/>.</summary>
    public Caller Caller => caller;

    /// <summary>The caller as the audit trail records them, with this request's id, address and user agent.</summary>
    public AuditActor Actor => new(caller.Actor, System.Diagnostics.Activity.Current?.TraceId.ToString() ?? http.TraceIdentifier,
        http.Connection.RemoteIpAddress?.ToString(), Header("User-Agent"));
    public HttpRequest Request => http.Request;
    public CancellationToken Aborted => http.RequestAborted;

    /// <summary>"http://host:port" as the caller reached us, for links in answers.</summary>
    public string BaseUrl => $"{Request.Scheme}://{Request.Host}";

    public T Service<T>() where T : notnull => http.RequestServices.GetRequiredService<T>();

    public string Route(string name) =>
        Request.RouteValues.TryGetValue(name, out var value) && value?.ToString() is { Length: > 0 } text
            ? text
            : throw new ApiProblemException(ApiProblem.NotFound($"The path names no {name}."));

    /// <summary>A route id; not a GUID means nothing can have it (404, as a route constraint would answer).</summary>
    public Guid RouteId(string name) =>
        Guid.TryParse(Route(name), out var id) ? id : throw new ApiProblemException(ApiProblem.NotFound($"No such {name}."));

    public string? Query(string name) => Request.Query[name].FirstOrDefault();

    public int? QueryInt(string name) =>
        Query(name) is not { Length: > 0 } text ? null
        : int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value
        : throw new ApiProblemException(ApiProblem.BadRequest($"Query parameter '{name}' must be an integer."));

    /// <summary>An ISO 8601 time (UTC when it names no offset), or 422 naming the parameter.</summary>
    public DateTimeOffset? QueryTime(string name) =>
        Query(name) is not { Length: > 0 } text ? null
        : DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t
        : throw ApiProblemException.Invalid(name, "Must be an ISO 8601 time.");

    public string? Header(string name) => Request.Headers[name].FirstOrDefault();

    public Task<byte[]> BodyAsync(int limit) => LimitedBody.ReadAsync(Request.Body, Request.ContentLength, limit, Aborted);

    /// <summary>
    /// A JSON object body: 415 for another media type, 413 above <paramref name="limit"/>, 400 when it is not UTF-8 or
    /// does not parse, 422 naming the field for a NUL character, a wrong type or a value out of range (<see cref="JsonText"/>).
    /// </summary>
    public async Task<T> JsonAsync<T>(int limit = DefaultJsonBodyBytes) where T : class
    {
        if (!HttpRules.IsJson(Request.ContentType)) throw new ApiProblemException(ApiProblem.UnsupportedMediaType("application/json"));
        var body = await BodyAsync(limit);
        using var doc = JsonText.Parse(body);
        return JsonText.Deserialize<T>(doc);
    }
}
