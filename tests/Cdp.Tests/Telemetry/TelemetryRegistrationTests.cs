using Cdp.Shared.Telemetry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Cdp.Tests.Telemetry;

/// <summary>The exporters follow the settings; off means no provider at all (what the bench compares against).</summary>
public sealed class TelemetryRegistrationTests
{
    static IHost Build(params (string Key, string Value)[] settings)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)));
        builder.AddCdpTelemetry();
        return builder.Build();
    }

    [Fact]
    public void With_an_OTLP_endpoint_and_an_Application_Insights_connection_string_both_providers_are_built()
    {
        using var host = Build(
            ("Observability:OtlpEndpoint", "http://127.0.0.1:4317"),
            (TelemetryRegistration.AppInsightsSetting, "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9/"));
        Assert.NotNull(host.Services.GetService<TracerProvider>());
        Assert.NotNull(host.Services.GetService<MeterProvider>());
    }

    [Fact]
    public void Turned_off_there_is_no_tracer_or_meter_provider_and_nothing_listens()
    {
        using var host = Build(("Observability:Enabled", "false"));
        Assert.Null(host.Services.GetService<TracerProvider>());
        Assert.Null(host.Services.GetService<MeterProvider>());
        Assert.NotNull(host.Services.GetService<PrometheusText>());   // /metrics still answers, empty
    }
}
