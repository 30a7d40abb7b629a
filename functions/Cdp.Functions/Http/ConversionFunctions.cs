using Cdp.Functions.Durable;
using Cdp.Orchestrations.Conversion;
using Cdp.Shared.Api;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;

namespace Cdp.Functions.Http;

public sealed class ConversionFunctions(RequestLeadConversion conversion, DurableClientScope durable)
{
    [Function("ConvertLead")]
    public async Task<IResult> Convert(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "leads/{leadId:guid}/convert")] HttpRequest request, Guid leadId,
        [DurableClient] DurableTaskClient client, FunctionContext context)
    {
        using var scope = durable.Use(client);
        var body = await LimitedBody.ReadAsync(request.Body, request.ContentLength, RequestLeadConversion.MaxBodyBytes, context.CancellationToken);
        return await conversion.RunAsync(leadId, body, context.CancellationToken) switch
        {
            ConversionAnswer.Done done => HttpBodies.Json(done.Ids),
            ConversionAnswer.Running running => CheckStatusLinks.Accepted(client, running.InstanceId),
            _ => throw new InvalidOperationException("Unknown conversion answer."),
        };
    }
}
