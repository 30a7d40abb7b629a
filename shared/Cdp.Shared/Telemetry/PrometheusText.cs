using System.Globalization;
using System.Text;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace Cdp.Shared.Telemetry;

/// <summary>
/// The metrics of this process as Prometheus text (exposition format 0.0.4), collected on demand: a pull reader the
/// <c>/metrics</c> route collects, so the page goes through our route table and its <c>ops:read</c> check (the
/// Prometheus exporter package serves its own middleware, outside both). Cumulative, as Prometheus expects.
/// </summary>
public sealed class PrometheusText
{
    readonly TextExporter exporter = new();
    readonly object gate = new();

    public PrometheusText() => Reader = new BaseExportingMetricReader(exporter) { TemporalityPreference = MetricReaderTemporalityPreference.Cumulative };

    /// <summary>Added to the meter provider by <see cref="TelemetryRegistration.AddCdpTelemetry"/>.</summary>
    public MetricReader Reader { get; }

    /// <summary>Collects every instrument now and returns the page; one scrape at a time.</summary>
    public string Scrape()
    {
        lock (gate)
        {
            exporter.Text = "";
            Reader.Collect(timeoutMilliseconds: 5_000);
            return exporter.Text;
        }
    }

    sealed class TextExporter : BaseExporter<Metric>
    {
        public string Text { get; set; } = "";

        public override ExportResult Export(in Batch<Metric> batch)
        {
            var text = new StringBuilder();
            foreach (var metric in batch) Write(text, metric);
            Text = text.ToString();
            return ExportResult.Success;
        }
    }

    internal static void Write(StringBuilder text, Metric metric)
    {
        var name = NameOf(metric);
        var (type, suffix) = metric.MetricType switch
        {
            MetricType.LongSum or MetricType.DoubleSum => ("counter", "_total"),
            MetricType.Histogram => ("histogram", ""),
            MetricType.LongGauge or MetricType.DoubleGauge or MetricType.LongSumNonMonotonic or MetricType.DoubleSumNonMonotonic => ("gauge", ""),
            _ => ("", ""),
        };
        if (type.Length == 0) return;   // exponential histograms: not used here
        if (!string.IsNullOrEmpty(metric.Description)) text.Append("# HELP ").Append(name).Append(suffix).Append(' ').Append(Escape(metric.Description, help: true)).Append('\n');
        text.Append("# TYPE ").Append(name).Append(suffix).Append(' ').Append(type).Append('\n');
        foreach (ref readonly var point in metric.GetMetricPoints())
        {
            var labels = Labels(point.Tags);
            switch (metric.MetricType)
            {
                case MetricType.LongSum: Line(text, name + suffix, labels, point.GetSumLong()); break;
                case MetricType.DoubleSum: Line(text, name + suffix, labels, point.GetSumDouble()); break;
                case MetricType.LongSumNonMonotonic: Line(text, name, labels, point.GetSumLong()); break;
                case MetricType.DoubleSumNonMonotonic: Line(text, name, labels, point.GetSumDouble()); break;
                case MetricType.LongGauge: Line(text, name, labels, point.GetGaugeLastValueLong()); break;
                case MetricType.DoubleGauge: Line(text, name, labels, point.GetGaugeLastValueDouble()); break;
                case MetricType.Histogram:
                    long cumulative = 0;
                    foreach (var bucket in point.GetHistogramBuckets())
                    {
                        cumulative += bucket.BucketCount;
                        var le = double.IsPositiveInfinity(bucket.ExplicitBound) ? "+Inf" : Number(bucket.ExplicitBound);
                        Line(text, name + "_bucket", Join(labels, $"le=\"{le}\""), cumulative);
                    }
                    Line(text, name + "_sum", labels, point.GetHistogramSum());
                    Line(text, name + "_count", labels, point.GetHistogramCount());
                    break;
            }
        }
    }

    /// <summary>"cdp.summary.lag" in seconds -> "cdp_summary_lag_seconds" (Prometheus names: [a-zA-Z0-9_:]).</summary>
    internal static string NameOf(Metric metric)
    {
        var name = Sanitize(metric.Name);
        var unit = metric.Unit switch { "s" => "seconds", "ms" => "milliseconds", "By" => "bytes", _ => null };
        return unit is null || name.EndsWith("_" + unit, StringComparison.Ordinal) ? name : name + "_" + unit;
    }

    static string Sanitize(string name)
    {
        var chars = name.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
            if (!(char.IsAsciiLetterOrDigit(chars[i]) || chars[i] is '_' or ':')) chars[i] = '_';
        return char.IsAsciiDigit(chars[0]) ? "_" + new string(chars) : new string(chars);
    }

    static string Labels(ReadOnlyTagCollection tags)
    {
        var labels = new StringBuilder();
        foreach (var tag in tags)
        {
            if (labels.Length > 0) labels.Append(',');
            labels.Append(Sanitize(tag.Key)).Append("=\"").Append(Escape(Convert.ToString(tag.Value, CultureInfo.InvariantCulture) ?? "", help: false)).Append('"');
        }
        return labels.ToString();
    }

    static string Join(string labels, string more) => labels.Length == 0 ? more : labels + "," + more;

    static void Line(StringBuilder text, string name, string labels, double value)
    {
        text.Append(name);
        if (labels.Length > 0) text.Append('{').Append(labels).Append('}');
        text.Append(' ').Append(Number(value)).Append('\n');
    }

    static string Number(double value) =>
        double.IsPositiveInfinity(value) ? "+Inf" : double.IsNegativeInfinity(value) ? "-Inf" : double.IsNaN(value) ? "NaN"
        : value.ToString("R", CultureInfo.InvariantCulture);

    static string Escape(string value, bool help) =>
        help ? value.Replace("\\", "\\\\").Replace("\n", "\\n")
             : value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");
}
