using Cdp.Shared.Api;
using Microsoft.AspNetCore.Diagnostics;

namespace Cdp.Functions.Local;

/// <summary>
/// What escapes a route's own handling (Kestrel refusing a body before a route runs, a bug in middleware) leaves as the
/// core's problem body, decided by the same <see cref="ApiSurface.ProblemFor"/> the routes use.
/// </summary>
sealed class ApiProblemHandler : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken ct)
    {
        await ApiSurface.Problem(context, ApiSurface.ProblemFor(exception, context, "middleware")).ExecuteAsync(context);
        return true;
    }
}
