using Cdp.Shared;
using Cdp.Shared.Api;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Middleware;
using Microsoft.Extensions.Logging;

namespace Cdp.Functions.Http;

/// <summary>
/// What ApiProblemHandler is to the local host: an HTTP function's exception leaves as application/problem+json with
/// the status the core's <see cref="ApiProblem.ForException"/> gives, a real bug as 500. Other triggers rethrow, so
/// their retry policies apply.
/// </summary>
sealed class ApiProblemMiddleware(ILogger<ApiProblemMiddleware> logger) : IFunctionsWorkerMiddleware
{
    public async Task Invoke(FunctionContext context, FunctionExecutionDelegate next)
    {
        try
        {
            await next(context);
        }
        catch (Exception thrown) when (context.GetHttpContext() is { } http)
        {
            var exception = thrown is AggregateException { InnerException: { } inner } ? inner : thrown;
            var problem = exception switch
            {
                BadHttpRequestException b => new ApiProblem(b.StatusCode, b.StatusCode == 413 ? "Payload too large" : "Malformed request", b.Message),
                _ => ApiProblem.ForException(exception),
            };
            if (problem is null)
            {
                logger.LogError(exception, "Unhandled error in {Function} ({Method} {Path})", context.FunctionDefinition.Name, http.Request.Method, http.Request.Path);
                problem = new ApiProblem(500, "Unexpected error", "The error was logged.");
            }
            else if (problem.Status >= 500)
            {
                logger.LogWarning(exception, "Dependency problem in {Function}", context.FunctionDefinition.Name);
            }
            // The ASP.NET Core integration executes an IResult invocation result after this middleware returns.
            context.GetInvocationResult().Value = Results.Json(problem.ToBody(), CdpJson.Options, "application/problem+json", problem.Status);
        }
    }
}
