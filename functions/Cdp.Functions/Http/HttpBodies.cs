using System.Text.Json;
using Cdp.Shared;
using Cdp.Shared.Api;
using Microsoft.AspNetCore.Http;

namespace Cdp.Functions.Http;

/// <summary>
/// Reads JSON bodies the way the local host's minimal APIs bind them: 415 for another media type, 400 for JSON that
/// does not parse, within the same size limit.
/// </summary>
static class HttpBodies
{
    // The local host's Kestrel request limit (LocalHost.AddLocalHost).
    const int MaxJsonBodyBytes = 4 * 1024 * 1024;

    public static async Task<T> ReadJsonAsync<T>(HttpRequest request, CancellationToken ct)
    {
        if (!HttpRules.IsJson(request.ContentType)) throw new ApiProblemException(ApiProblem.UnsupportedMediaType("application/json"));
        var body = await LimitedBody.ReadAsync(request.Body, request.ContentLength, MaxJsonBodyBytes, ct);
        try
        {
            return JsonSerializer.Deserialize<T>(body, CdpJson.Options) ?? throw new ApiProblemException(ApiProblem.BadRequest("The body must be a JSON object."));
        }
        catch (JsonException e)
        {
            throw new ApiProblemException(ApiProblem.BadRequest($"The body is not valid JSON: {e.Message}"));
        }
    }

    /// <summary>JSON in the core's shape (camelCase, enums by name) with the given status.</summary>
    public static IResult Json(object? value, int status = 200) => Results.Json(value, CdpJson.Options, statusCode: status);

    /// <summary>JSON with a Location header, for 201/202 answers.</summary>
    public static IResult At(int status, string location, object? value) => new WithLocation(status, location, value);

    /// <summary>An optional integer query parameter; a malformed one is the caller's mistake (400), as in the local host.</summary>
    public static int? QueryInt(HttpRequest request, string name) =>
        request.Query[name].FirstOrDefault() is not { Length: > 0 } text ? null
        : int.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var value) ? value
        : throw new ApiProblemException(ApiProblem.BadRequest($"Query parameter '{name}' must be an integer."));

    sealed class WithLocation(int status, string location, object? value) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.Location = location;
            return Json(value, status).ExecuteAsync(httpContext);
        }
    }
}
