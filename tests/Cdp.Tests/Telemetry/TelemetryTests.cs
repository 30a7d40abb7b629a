using System.Collections;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Cdp.Orchestrations.Sync;
using Cdp.Shared.Access;
using Cdp.Shared.Ingestion;
using Cdp.Shared.Sync;
using Cdp.Tests.Support;
using Cdp.Tests.Sync;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OpenTelemetry.Trace;

namespace Cdp.Tests.Telemetry;

/// <summary>
/// Traces and metrics through the local host in-process on real Postgres: the spans go to OpenTelemetry's in-memory
/// exporter, each request starts from a traceparent the test chooses, and the spans of that trace are followed parent
/// by parent (other apps in this process trace too; their traces have other ids).
/// </summary>
public sealed class TelemetryTests(TelemetryTests.App app) : IClassFixture<TelemetryTests.App>
{
    public sealed class App : SyncApp
    {
        public SpanLog Spans { get; } = new();

        /// <summary>Starting a sync orchestration throws a bug (not a dependency outage) while set: a 500.</summary>
        public volatile bool BreakSyncStart;

        protected override void ConfigureServices(IServiceCollection services)
        {
            services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddInMemoryExporter(Spans));
            services.AddSingleton<OrchestratedSyncRunner>();
            services.Replace(ServiceDescriptor.Singleton<ISyncRunner>(sp => new BreakableRunner(this, sp.GetRequiredService<OrchestratedSyncRunner>())));
        }

        sealed class BreakableRunner(App app, OrchestratedSyncRunner inner) : ISyncRunner
        {
            public Task StartAsync(Guid syncTaskId, CancellationToken ct) =>
                app.BreakSyncStart ? throw new InvalidOperationException("a bug in starting the push") : inner.StartAsync(syncTaskId, ct);
        }
    }

    /// <summary>The exporter's collection, safe to read while spans arrive from other threads.</summary>
    public sealed class SpanLog : ICollection<Activity>
    {
        readonly ConcurrentQueue<Activity> spans = new();
        public int Count => spans.Count;
        public bool IsReadOnly => false;
        public void Add(Activity item) => spans.Enqueue(item);
        public void Clear() { }
        public bool Contains(Activity item) => spans.Contains(item);
        public void CopyTo(Activity[] array, int arrayIndex) => spans.ToArray().CopyTo(array, arrayIndex);
        public bool Remove(Activity item) => false;
        public IEnumerator<Activity> GetEnumerator() => ((IEnumerable<Activity>)spans.ToArray()).GetEnumerator();
        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

        public IReadOnlyList<Activity> Of(ActivityTraceId trace) => [.. this.Where(s => s.TraceId == trace)];
    }

    /// <summary>A fresh trace the request continues: (traceparent header, trace id, the caller's span id).</summary>
    static (string Header, ActivityTraceId Trace, ActivitySpanId Root) NewTrace()
    {
        var trace = ActivityTraceId.CreateRandom();
        var root = ActivitySpanId.CreateRandom();
        return ($"00-{trace.ToHexString()}-{root.ToHexString()}-01", trace, root);
    }

    Activity Span(ActivityTraceId trace, string name) => Assert.Single(app.Spans.Of(trace), s => s.DisplayName == name);

    /// <summary>
    /// The span's parent within the trace, asserting it is there (a broken link fails here). A span is exported when it
    /// ends, which for a parent is just after its child: allow it a moment.
    /// </summary>
    async Task<Activity> ParentOf(Activity span)
    {
        Activity? parent = null;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while ((parent = app.Spans.Of(span.TraceId).SingleOrDefault(s => s.SpanId == span.ParentSpanId)) is null && DateTime.UtcNow < deadline)
            await Task.Delay(50);
        Assert.True(parent is not null, $"span '{span.DisplayName}' has no exported parent {span.ParentSpanId} in trace {span.TraceId}: "
            + string.Join(", ", app.Spans.Of(span.TraceId).Select(s => $"{s.DisplayName}({s.SpanId}<-{s.ParentSpanId})")));
        return parent!;
    }

    [Fact]
    public async Task A_webhooks_trace_reaches_the_summary_computation_with_every_parent_link_intact()
    {
        var (header, trace, root) = NewTrace();
        using var request = CdpApp.Signed(ChannelNames.Crm, Payloads.Crm("lead",
            new { LastName = "链", FirstName = "路", Company = "追踪" + TestData.CompanyWord() + "有限公司", MobilePhone = TestData.Mobile() }));
        request.Headers.Add("traceparent", header);
        using (var response = await app.Client.SendAsync(request)) Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);

        await Eventually.Until(() => Task.FromResult(app.Spans.Of(trace).Any(s => s.DisplayName == "summary calculate")),
            TimeSpan.FromSeconds(60), "the summary computation's span in the webhook's trace");

        // summary <- its message <- identity resolution (which published it) <- its message <- ingestion <- its message <- the webhook <- the caller
        var summary = Span(trace, "summary calculate");
        var summaryMessage = await ParentOf(summary);
        Assert.Equal("summary-calculation process", summaryMessage.DisplayName);
        Assert.Equal(ActivityKind.Consumer, summaryMessage.Kind);
        var resolve = await ParentOf(summaryMessage);
        Assert.Equal("identity resolve", resolve.DisplayName);
        Assert.Equal("created", resolve.GetTagItem("cdp.identity.outcome"));
        var identityMessage = await ParentOf(resolve);
        Assert.Equal("identity-resolution process", identityMessage.DisplayName);
        var ingestionMessage = await ParentOf(identityMessage);
        Assert.Equal("data-ingestion process", ingestionMessage.DisplayName);
        var webhook = await ParentOf(ingestionMessage);
        Assert.Equal(ActivityKind.Server, webhook.Kind);
        Assert.Equal("/api/ingest/{channel}", webhook.GetTagItem("http.route"));
        Assert.Equal(root, webhook.ParentSpanId);
        // The SQL the stages ran is in the trace too (Npgsql instrumentation).
        Assert.Contains(app.Spans.Of(trace), s => s.Source.Name == "Npgsql");
    }

    [Fact]
    public async Task A_tag_change_trace_reaches_the_WeCom_call_through_the_orchestration_and_its_activity()
    {
        var (contact, _) = await app.NewContactAsync();
        var (header, trace, root) = NewTrace();
        using var request = new HttpRequestMessage(HttpMethod.Put, $"/api/contacts/{contact}/tags") { Content = JsonContent.Create(new { tags = new[] { "追踪" } }) };
        request.Headers.Add("traceparent", header);
        using (var response = await app.Client.SendAsync(request)) Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);

        // The stand-in saw the trace: the mark_tag call carries a traceparent of the same trace.
        string? seen = null;
        await Eventually.Until(() =>
        {
            seen = app.WeCom.TraceParents(WeComStandIn.MarkTagPath).FirstOrDefault(t => t.Contains(trace.ToHexString(), StringComparison.Ordinal));
            return Task.FromResult(seen is not null);
        }, TimeSpan.FromSeconds(60), "a mark_tag call in the tag change's trace");
        var callSpanId = ActivitySpanId.CreateFromString(seen!.Split('-')[2]);

        // call <- activity <- orchestration <- the PUT <- the caller
        Activity? call = null;
        await Eventually.Until(() => Task.FromResult((call = app.Spans.Of(trace).SingleOrDefault(s => s.SpanId == callSpanId)) is not null),
            TimeSpan.FromSeconds(30), "the HTTP client span of the mark_tag call");
        Assert.Equal(ActivityKind.Client, call!.Kind);
        var activity = await ParentOf(call);
        Assert.Equal($"activity {nameof(PushSyncTask)}", activity.DisplayName);
        var orchestration = await ParentOf(activity);
        Assert.Equal($"orchestration {nameof(SyncThenRetry)}", orchestration.DisplayName);
        var put = await ParentOf(orchestration);
        Assert.Equal(ActivityKind.Server, put.Kind);
        Assert.Equal(root, put.ParentSpanId);
    }

    [Fact]
    public async Task Metrics_are_Prometheus_text_with_the_platforms_instruments_for_ops_read_and_refused_otherwise()
    {
        await CdpApp.IngestAsync(app.Client, ChannelNames.Crm, Payloads.Crm("lead", new { LastName = "指", FirstName = "标", MobilePhone = TestData.Mobile() }));
        using var ops = await ApiKeyCaller.CreateAsync(app, Permissions.OpsRead);
        using var other = await ApiKeyCaller.CreateAsync(app, Permissions.CustomersRead);

        using var response = await ops.Client.GetAsync("/metrics");
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("# TYPE cdp_ingestion_ingested_total counter", text);
        Assert.Matches(@"cdp_ingestion_ingested_total\{channel=""crm""\} [1-9]", text);
        Assert.Contains("# TYPE cdp_topic_backlog gauge", text);
        Assert.Contains("cdp_topic_backlog{topic=\"data-ingestion\"}", text);
        Assert.Contains("cdp_topic_dead_letters{topic=\"summary-calculation\"}", text);
        Assert.Contains("cdp_identity_open_reviews ", text);

        using (var refused = await other.Client.GetAsync("/metrics")) Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        using (var nobody = await app.Anonymous.GetAsync("/metrics")) Assert.Equal(HttpStatusCode.Unauthorized, nobody.StatusCode);
    }

    [Fact]
    public async Task A_500_carries_the_W3C_trace_id_of_its_request_in_the_problem_and_in_the_log_line()
    {
        var (contact, _) = await app.NewContactAsync();
        var (header, trace, _) = NewTrace();
        app.BreakSyncStart = true;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Put, $"/api/contacts/{contact}/tags") { Content = JsonContent.Create(new { tags = new[] { "出错" } }) };
            request.Headers.Add("traceparent", header);
            using var response = await app.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
            using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.Equal(trace.ToHexString(), problem.RootElement.GetProperty("traceId").GetString());
        }
        finally
        {
            app.BreakSyncStart = false;
        }
        Assert.Contains(app.Logs.Lines, l => l.StartsWith("Error ", StringComparison.Ordinal) && l.Contains("Unhandled error", StringComparison.Ordinal)
            && l.Contains(trace.ToHexString(), StringComparison.Ordinal));
    }
}
