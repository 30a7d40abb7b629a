using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Azure.Monitor.OpenTelemetry.Exporter;

namespace Cdp.Shared.Telemetry;

/// <summary>Bound from "Observability".</summary>
public sealed class TelemetryOptions
{
    public const string Section = "Observability";

    /// <summary>False turns traces and metrics off entirely (no listener: spans are not even created); the bench compares both.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>An OTLP receiver (an OpenTelemetry Collector, Jaeger): "http://127.0.0.1:4317" (gRPC) or ":4318" with OtlpProtocol=HttpProtobuf. Absent: no OTLP export.</summary>
    public string? OtlpEndpoint { get; set; }

    /// <summary>Grpc (default) or HttpProtobuf.</summary>
    public string OtlpProtocol { get; set; } = "Grpc";

    /// <summary>service.name on every span and metric.</summary>
    public string ServiceName { get; set; } = "cdp";

    /// <summary>How often the gauges read from stored data (backlog, dead letters, open reviews) are read again.</summary>
    public TimeSpan StoredGaugeInterval { get; set; } = TimeSpan.FromSeconds(15);
}

public static class TelemetryRegistration
{
    /// <summary>Azure's setting for Application Insights; when present, traces and metrics also go to Azure Monitor.</summary>
    public const string AppInsightsSetting = "APPLICATIONINSIGHTS_CONNECTION_STRING";

    /// <summary>
    /// The one telemetry registration both hosts use (through <see cref="CdpPlatform.AddCdpPlatform"/>): the "Cdp"
    /// ActivitySource and Meter, ASP.NET Core, HttpClient and Npgsql instrumentation, the pull reader behind
    /// <c>/metrics</c>, and the exporters the settings name (OTLP, Azure Monitor).
    /// </summary>
    public static IHostApplicationBuilder AddCdpTelemetry(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        var section = builder.Configuration.GetSection(TelemetryOptions.Section);
        services.AddOptions<TelemetryOptions>().BindConfiguration(TelemetryOptions.Section);
        services.AddSingleton<PrometheusText>();
        services.AddSingleton<StoredGauges>();
        var settings = section.Get<TelemetryOptions>() ?? new TelemetryOptions();
        if (!settings.Enabled) return builder;

        services.AddHostedService(sp => sp.GetRequiredService<StoredGauges>());
        var otlp = string.IsNullOrWhiteSpace(settings.OtlpEndpoint) ? null : new Uri(settings.OtlpEndpoint);
        var protocol = settings.OtlpProtocol.Equals("HttpProtobuf", StringComparison.OrdinalIgnoreCase) ? OtlpExportProtocol.HttpProtobuf : OtlpExportProtocol.Grpc;
        var azure = builder.Configuration[AppInsightsSetting];

        services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(settings.ServiceName))
            .WithTracing(tracing =>
            {
                tracing.AddSource(CdpTelemetry.Name)
                    .AddAspNetCoreInstrumentation(o => o.RecordException = false)   // exception messages can hold personal data
                    .AddHttpClientInstrumentation(o => o.FilterHttpRequestMessage = request => !IsOtlp(request, otlp))
                    .AddNpgsql();
                if (otlp is not null) tracing.AddOtlpExporter(o => { o.Endpoint = OtlpUrl(otlp, protocol, "traces"); o.Protocol = protocol; });
                if (!string.IsNullOrWhiteSpace(azure)) tracing.AddAzureMonitorTraceExporter(o => o.ConnectionString = azure);
            })
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(CdpTelemetry.Name)
                    .AddAspNetCoreInstrumentation()
                    .AddHttpClientInstrumentation()
                    .AddReader(sp => sp.GetRequiredService<PrometheusText>().Reader);
                if (otlp is not null) metrics.AddOtlpExporter(o => { o.Endpoint = OtlpUrl(otlp, protocol, "metrics"); o.Protocol = protocol; });
                if (!string.IsNullOrWhiteSpace(azure)) metrics.AddAzureMonitorMetricExporter(o => o.ConnectionString = azure);
            });
        return builder;
    }

    // gRPC takes the bare endpoint; OTLP/HTTP wants the signal's path.
    static Uri OtlpUrl(Uri endpoint, OtlpExportProtocol protocol, string signal) =>
        protocol == OtlpExportProtocol.Grpc || endpoint.AbsolutePath.Length > 1 ? endpoint : new Uri(endpoint, $"/v1/{signal}");

    // The exporter's own requests are not traced (they would trace themselves forever).
    static bool IsOtlp(HttpRequestMessage request, Uri? otlp) =>
        otlp is not null && request.RequestUri is { } uri && uri.Host == otlp.Host && uri.Port == otlp.Port;
}
