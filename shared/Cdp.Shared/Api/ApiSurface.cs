using Microsoft.AspNetCore.Http;
using System.Diagnostics;
using Cdp.Shared.Access;
using Cdp.Shared.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Cdp.Shared.Api;

/// <summary>
/// Runs a route and turns whatever it throws into the one problem-details body both hosts send (RFC 9457: type,
/// title, status, detail, errors, traceId). The hosts' own error hooks (an unmatched path, a body Kestrel refused)
/// write through <see cref="Problem"/> too, so no error body is shaped in a host.
/// </summary>
public static class ApiSurface
{
    public static async Task<IResult> RunAsync(ApiRoute route, HttpContext http)
    {
        SecurityHeaders.Apply(http.Response);
        try
        {
            await Cors.ApplyAsync(http);
            var caller = await CallerAsync(route, http);
            Admit(route, caller, http.Request);
            return await route.Handle(new ApiCall(http, caller));
        }
        catch (Exception thrown)
        {
            return Problem(http, ProblemFor(thrown, http, route.Name));
        }
    }

    static async Task<Caller> CallerAsync(ApiRoute route, HttpContext http)
    {
        var authenticate = http.RequestServices.GetRequiredService<Authenticate>();
        if (route.Permission != ApiRoute.Public) return await authenticate.CallerOfAsync(http.Request, http.RequestAborted);
        // A public route (a webhook, sign-in) still learns who calls when it can, but a stray credential is no reason to refuse it.
        try { return await authenticate.CallerOfAsync(http.Request, http.RequestAborted); }
        catch (ApiProblemException) { return Caller.Anonymous; }
    }

    /// <summary>
    /// 401 without a caller, 403 without the route's permission, 403 for a cookie-authenticated change without the CSRF
    /// token, 403 for a publishable key used from an origin it was not made for.
    /// </summary>
    public static void Admit(ApiRoute route, Caller caller, HttpRequest request)
    {
        if (route.Permission == ApiRoute.Public) return;
        if (!caller.IsAuthenticated)
            throw new ApiProblemException(ApiProblem.Unauthorized("Sign in with WeCom, or send 'Authorization: Bearer <api key>'."));
        if (!caller.Has(route.Permission))
            throw new ApiProblemException(ApiProblem.Forbidden($"This needs the permission '{route.Permission}'."));
        if (caller.CsrfToken is { } csrf && !HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method)
            && !ConstantTime.Equal(request.Headers[SessionTokens.CsrfHeader].FirstOrDefault(), csrf))
            throw new ApiProblemException(ApiProblem.Forbidden($"A change made with the session cookie must carry the CSRF token in {SessionTokens.CsrfHeader}."));
        if (caller.Kind == CallerKind.PublishableKey && !caller.AllowedOrigins.Contains(request.Headers.Origin.FirstOrDefault() ?? "", StringComparer.OrdinalIgnoreCase))
            throw new ApiProblemException(ApiProblem.Forbidden("This publishable key is not allowed from this origin."));
    }

    /// <summary>
    /// The problem an exception stands for: the use case's own, a request the server refused to read (its status), a
    /// dependency that is down (503); anything else is a bug, logged and answered 500 without its details.
    /// </summary>
    public static ApiProblem ProblemFor(Exception thrown, HttpContext http, string where)
    {
        var exception = thrown is AggregateException { InnerException: { } inner } ? inner : thrown;
        var problem = exception switch
        {
            BadHttpRequestException { StatusCode: 413 } => new ApiProblem(413, "Payload too large", exception.Message),
            BadHttpRequestException b => new ApiProblem(b.StatusCode, "Malformed request", b.Message),
            OperationCanceledException when http.RequestAborted.IsCancellationRequested =>
                new ApiProblem(499, "Client closed request", "The caller went away before the answer."),
            _ => ApiProblem.ForException(exception),
        };
        var logger = http.RequestServices?.GetService<ILoggerFactory>()?.CreateLogger("Cdp.Api");
        if (problem is null)
        {
            logger?.LogError(exception, "Unhandled error in {Route} ({Method} {Path}), trace {TraceId}", where, http.Request.Method, http.Request.Path, TraceIdOf(http));
            Activity.Current.Fail(exception);
            return new ApiProblem(500, "Unexpected error", "The error was logged.");
        }
        if (problem.Status >= 500) logger?.LogWarning(exception, "Dependency problem in {Route}, trace {TraceId}", where, TraceIdOf(http));
        return problem;
    }

    /// <summary>
    /// The id a caller quotes and the log line of a 5xx carries: the W3C trace id of the current span (the one tracing
    /// backends index, and the caller's own when it sent a traceparent), else the host's request id.
    /// </summary>
    public static string TraceIdOf(HttpContext http) => CdpTelemetry.CurrentTraceId ?? http.TraceIdentifier;

    /// <summary>application/problem+json with the trace id of the request, so a caller's report finds the log lines.</summary>
    public static IResult Problem(HttpContext http, ApiProblem problem)
    {
        var body = new Dictionary<string, object?>(problem.ToBody())
        {
            ["traceId"] = TraceIdOf(http),
        };
        foreach (var (name, value) in problem.Headers ?? new Dictionary<string, string>()) http.Response.Headers[name] = value;
        return Results.Json(body, CdpJson.Options, "application/problem+json", problem.Status);
    }
}

/// <summary>The answers routes give, in the core's JSON shape (camelCase, enums by name) on both hosts.</summary>
public static class ApiResults
{
    public static IResult Json(object? value, int status = StatusCodes.Status200OK) => Results.Json(value, CdpJson.Options, statusCode: status);

    /// <summary>JSON with a Location header, for 201/202 answers.</summary>
    public static IResult At(int status, string location, object? value) => new WithLocation(status, location, value);

    /// <summary>A body that is JSON already (a cached view), sent as it is.</summary>
    public static IResult RawJson(string json) => Results.Text(json, "application/json", System.Text.Encoding.UTF8);

    sealed class WithLocation(int status, string location, object? value) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.Location = location;
            return Json(value, status).ExecuteAsync(httpContext);
        }
    }
}
