using Cdp.Orchestrations;
using Cdp.Orchestrations.Conversion;
using Cdp.Shared.Api;

namespace Cdp.Functions.Local;

public static class ConversionEndpoints
{
    public static void MapConversion(this IEndpointRouteBuilder app) =>
        app.MapPost("/api/leads/{leadId:guid}/convert", Convert);

    static async Task<IResult> Convert(Guid leadId, HttpRequest http, RequestLeadConversion conversion, CancellationToken ct)
    {
        var body = await LimitedBody.ReadAsync(http.Body, http.ContentLength, RequestLeadConversion.MaxBodyBytes, ct);
        switch (await conversion.RunAsync(leadId, body, ct))
        {
            case ConversionAnswer.Done done:
                return Results.Ok(done.Ids);
            case ConversionAnswer.Running running:
                var status = CheckStatus.For($"{http.Scheme}://{http.Host}", running.InstanceId);
                return Results.Accepted(status.StatusQueryGetUri, status);
            default:
                throw new InvalidOperationException("Unknown conversion answer.");
        }
    }
}
