using Cdp.Shared.Api;
using Cdp.Shared.Events;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace Cdp.Functions.Http;

public sealed class EventFunctions(AcceptEvents accept)
{
    [Function("PostEvents")]
    public async Task<IResult> Post(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "events")] HttpRequest request, FunctionContext context)
    {
        if (!HttpRules.IsJson(request.ContentType)) throw new ApiProblemException(ApiProblem.UnsupportedMediaType("application/json"));
        var body = await LimitedBody.ReadAsync(request.Body, request.ContentLength, accept.Options.MaxBodyBytes, context.CancellationToken);
        return HttpBodies.Json(await accept.HandleAsync(body, context.CancellationToken), StatusCodes.Status202Accepted);
    }
}
