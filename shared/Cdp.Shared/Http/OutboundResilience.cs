using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polly;

namespace Cdp.Shared.Http;

/// <summary>
/// The one resilience recipe every outbound HTTP client of the platform uses, on Microsoft.Extensions.Http.Resilience.
/// </summary>
public static class OutboundResilience
{
    /// <summary>
    /// Retry (outermost) -> circuit breaker -> per-attempt timeout, the order of the standard .NET handler: each
    /// timed-out attempt is seen by the breaker as a failure and by the retry as a reason to try again. Transient means
    /// HttpRequestException, an attempt timeout, 408, 429 or 5xx (the library's default predicate). The pipeline is
    /// one per client name, so the circuit state survives handler rotation by the factory. Log lines name the client,
    /// never a URL (URLs may carry access tokens).
    /// </summary>
    public static IHttpClientBuilder AddOutboundResilience(
        this IHttpClientBuilder builder, Func<IServiceProvider, OutboundHttpOptions> options)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);

        var name = builder.Name;
        // The library resends the same request message on a retry; a one-shot body (a forwarded stream) must be
        // buffered first or the second attempt would send nothing.
        builder.AddHttpMessageHandler(() => new BufferRequestContent());
        builder.AddResilienceHandler("outbound", (pipeline, context) =>
        {
            var sp = context.ServiceProvider;
            var o = options(sp);
            var logger = sp.GetService<ILoggerFactory>()?.CreateLogger(typeof(OutboundResilience).FullName!)
                ?? NullLogger.Instance;
            if (sp.GetService<TimeProvider>() is { } time) pipeline.TimeProvider = time;

            if (o.MaxRetries > 0)
            {
                pipeline.AddRetry(new HttpRetryStrategyOptions
                {
                    MaxRetryAttempts = o.MaxRetries,
                    Delay = o.RetryBaseDelay,   // exponential with jitter: the library's default
                    ShouldRetryAfterHeader = false,
                    OnRetry = args =>
                    {
                        logger.LogWarning(
                            "Outbound {Downstream} attempt {Attempt} failed ({Reason}); retrying in {Delay} ms",
                            name, args.AttemptNumber + 1, Describe(args.Outcome), (int)args.RetryDelay.TotalMilliseconds);
                        return default;
                    },
                });
            }

            pipeline.AddCircuitBreaker(new HttpCircuitBreakerStrategyOptions
            {
                FailureRatio = o.FailureRatio,
                SamplingDuration = o.SamplingDuration,
                MinimumThroughput = o.MinimumThroughput,
                BreakDuration = o.BreakDuration,
                OnOpened = args =>
                {
                    logger.LogError(
                        "Outbound {Downstream} circuit opened for {BreakSeconds} s after {Reason}",
                        name, args.BreakDuration.TotalSeconds, Describe(args.Outcome));
                    return default;
                },
                OnClosed = _ =>
                {
                    logger.LogInformation("Outbound {Downstream} circuit closed", name);
                    return default;
                },
            });

            pipeline.AddTimeout(o.AttemptTimeout);
        });
        return builder;
    }

    /// <summary>The same with fixed options (tests, or a client whose policy is not configurable).</summary>
    public static IHttpClientBuilder AddOutboundResilience(this IHttpClientBuilder builder, OutboundHttpOptions options) =>
        builder.AddOutboundResilience(_ => options);

    private static string Describe(Outcome<HttpResponseMessage> outcome) =>
        outcome.Exception is { } ex ? ex.GetType().Name : $"HTTP {(int)outcome.Result!.StatusCode}";

    /// <summary>Loads the request body into memory once so every attempt can send it again.</summary>
    private sealed class BufferRequestContent : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.Content is { } content) await content.LoadIntoBufferAsync(cancellationToken).ConfigureAwait(false);
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
    }
}
