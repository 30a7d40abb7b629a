using Cdp.Shared.Api;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Middleware;

namespace Cdp.Functions.Http;

/// <summary>
/// What ApiProblemHandler is to the local host: an HTTP function's exception that escaped its route (binding, a bug in
/// middleware) leaves as the core's problem body. Other triggers rethrow, so their retry policies apply.
/// </summary>
sealed class ApiProblemMiddleware : IFunctionsWorkerMiddleware
{
    public async Task Invoke(FunctionContext context, FunctionExecutionDelegate next)
    {
        try
        {
            await next(context);
        }
        catch (Exception thrown) when (context.GetHttpContext() is { } http)
        {
            // The ASP.NET Core integration executes an IResult invocation result after this middleware returns.
            context.GetInvocationResult().Value = ApiSurface.Problem(http, ApiSurface.ProblemFor(thrown, http, context.FunctionDefinition.Name));
        }
    }
}
