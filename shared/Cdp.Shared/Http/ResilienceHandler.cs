using System.Net.Http.Headers;
using Polly;

namespace Cdp.Shared.Http;

/// <summary>
/// Sends each request through a resilience pipeline. HttpClient refuses to send one request message twice, so
/// the body is buffered once and every attempt gets a fresh copy of the message.
/// </summary>
public sealed class ResilienceHandler(ResiliencePipeline<HttpResponseMessage> pipeline) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var body = request.Content is null ? null : await request.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        try
        {
            var response = await pipeline.ExecuteAsync(
                async ctx => await base.SendAsync(Copy(request, body), ctx.CancellationToken).ConfigureAwait(false),
                context).ConfigureAwait(false);
            response.RequestMessage = request;
            return response;
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private static HttpRequestMessage Copy(HttpRequestMessage request, byte[]? body)
    {
        var copy = new HttpRequestMessage(request.Method, request.RequestUri)
        {
            Version = request.Version,
            VersionPolicy = request.VersionPolicy,
        };
        foreach (var header in request.Headers)
        {
            copy.Headers.TryAddWithoutValidation(header.Key, header.Value);
        }

        foreach (var option in request.Options)
        {
            ((IDictionary<string, object?>)copy.Options)[option.Key] = option.Value;
        }

        if (body is not null)
        {
            copy.Content = new ByteArrayContent(body);
            CopyHeaders(request.Content!.Headers, copy.Content.Headers);
        }

        return copy;
    }

    private static void CopyHeaders(HttpContentHeaders from, HttpContentHeaders to)
    {
        foreach (var header in from)
        {
            to.TryAddWithoutValidation(header.Key, header.Value);
        }
    }
}
