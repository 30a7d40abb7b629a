using Cdp.Shared.Api;
using Microsoft.AspNetCore.Diagnostics;

namespace Cdp.Functions.Local;

/// <summary>
/// Every error leaves as application/problem+json: the core's ApiProblem as it is, bad framing from Kestrel or
/// the binder with its own status, a dependency outage as 503. Only a real bug is a 500.
/// </summary>
sealed class ApiProblemHandler(IProblemDetailsService problems, ILogger<ApiProblemHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken ct)
    {
        var problem = exception switch
        {
            BadHttpRequestException { StatusCode: 413 } => new ApiProblem(413, "Payload too large", exception.Message),
            BadHttpRequestException b => new ApiProblem(b.StatusCode, "Malformed request", b.Message),
            _ => ApiProblem.ForException(exception),
        };
        if (problem is null)
        {
            logger.LogError(exception, "Unhandled error on {Method} {Path}", context.Request.Method, context.Request.Path);
            problem = new ApiProblem(500, "Unexpected error", "The error was logged.");
        }
        else if (problem.Status >= 500)
        {
            logger.LogWarning(exception, "Dependency problem on {Method} {Path}", context.Request.Method, context.Request.Path);
        }

        context.Response.StatusCode = problem.Status;
        var details = new Microsoft.AspNetCore.Mvc.ProblemDetails { Status = problem.Status, Title = problem.Title, Detail = problem.Detail };
        foreach (var (name, value) in problem.Extensions ?? new Dictionary<string, object?>()) details.Extensions[name] = value;
        if (problem.Errors is not null) details.Extensions["errors"] = problem.Errors;
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = details, Exception = exception });
    }
}
