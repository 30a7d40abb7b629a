using System.Diagnostics;
using System.Globalization;
using Cdp.Shared.Messaging;

namespace Cdp.Shared.Telemetry;

/// <summary>The consumer span of one message: a child of the span that published it (its traceparent).</summary>
public static class TopicSpans
{
    public static Activity? Start(TopicMessage message, string system)
    {
        var span = CdpTelemetry.StartFrom($"{message.Topic} process", ActivityKind.Consumer, message.TraceParent);
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag("messaging.system", system);
            span.SetTag("messaging.operation.type", "process");
            span.SetTag("messaging.destination.name", message.Topic);
            span.SetTag("messaging.message.id", message.MessageId.ToString(CultureInfo.InvariantCulture));
            span.SetTag("cdp.attempt", message.Attempts + 1);
        }
        return span;
    }
}
