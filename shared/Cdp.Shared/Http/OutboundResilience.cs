using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;

namespace Cdp.Shared.Http;

/// <summary>The one resilience recipe every outbound HTTP client of the platform uses.</summary>
public static class OutboundResilience
{
    /// <summary>True for answers worth another attempt: 408, 429 and every 5xx.</summary>
    public static bool IsTransient(HttpStatusCode status) =>
        status is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests || (int)status >= 500;

    /// <summary>
    /// Retry (outermost) -> circuit breaker -> per-attempt timeout, the order of the standard .NET handler:
    /// each timed-out attempt is seen by the breaker as a failure and by the retry as a reason to try again.
    /// </summary>
    /// <param name="name">Names the downstream in log lines; never a URL, which may carry tokens.</param>
    public static ResiliencePipeline<HttpResponseMessage> Build(
        OutboundHttpOptions options, string name = "outbound", ILogger? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        logger ??= NullLogger.Instance;

        var transient = new PredicateBuilder<HttpResponseMessage>()
            .Handle<HttpRequestException>()
            .Handle<TimeoutRejectedException>()
            .HandleResult(r => IsTransient(r.StatusCode));

        var builder = new ResiliencePipelineBuilder<HttpResponseMessage>();
        if (timeProvider is not null)
        {
            builder.TimeProvider = timeProvider;
        }

        if (options.MaxRetries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                ShouldHandle = transient,
                MaxRetryAttempts = options.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryBaseDelay,
                OnRetry = args =>
                {
                    logger.LogWarning(
                        "Outbound {Downstream} attempt {Attempt} failed ({Reason}); retrying in {Delay} ms",
                        name, args.AttemptNumber + 1, Describe(args.Outcome), (int)args.RetryDelay.TotalMilliseconds);
                    return default;
                },
            });
        }

        builder.AddCircuitBreaker(new CircuitBreakerStrategyOptions<HttpResponseMessage>
        {
            ShouldHandle = transient,
            FailureRatio = options.FailureRatio,
            SamplingDuration = options.SamplingDuration,
            MinimumThroughput = options.MinimumThroughput,
            BreakDuration = options.BreakDuration,
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

        builder.AddTimeout(options.AttemptTimeout);
        return builder.Build();
    }

    /// <summary>
    /// Runs every request of this client through one pipeline built from <paramref name="options"/>. The pipeline
    /// is a singleton per client name, so the circuit state survives handler rotation by the factory.
    /// </summary>
    public static IHttpClientBuilder AddOutboundResilience(
        this IHttpClientBuilder builder, Func<IServiceProvider, OutboundHttpOptions> options)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);

        var key = PipelineKey(builder.Name);
        builder.Services.AddKeyedSingleton<ResiliencePipeline<HttpResponseMessage>>(key, (sp, _) =>
        {
            var logger = sp.GetService<ILoggerFactory>()?.CreateLogger("Cdp.Shared.Http.OutboundResilience");
            return Build(options(sp), builder.Name, logger, sp.GetService<TimeProvider>());
        });
        builder.AddHttpMessageHandler(sp =>
            new ResilienceHandler(sp.GetRequiredKeyedService<ResiliencePipeline<HttpResponseMessage>>(key)));
        return builder;
    }

    /// <summary>The same with fixed options (tests, or a client whose policy is not configurable).</summary>
    public static IHttpClientBuilder AddOutboundResilience(this IHttpClientBuilder builder, OutboundHttpOptions options) =>
        builder.AddOutboundResilience(_ => options);

    internal static string PipelineKey(string clientName) => "Cdp.Outbound:" + clientName;

    private static string Describe(Outcome<HttpResponseMessage> outcome) =>
        outcome.Exception is { } ex ? ex.GetType().Name : $"HTTP {(int)outcome.Result!.StatusCode}";
}
