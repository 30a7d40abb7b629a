using Cdp.Orchestrations;
using Cdp.Tests.Support;

namespace Cdp.Tests.Hosting;

/// <summary>
/// Both hosts must serve the same product: every local-host route, topic consumer, orchestrator, activity and timer
/// has an Azure function of the same route/method/name, and the other way round. Read from source with Roslyn, so the
/// Kafka triggers (left out of the build here) count too.
/// </summary>
public sealed class HostParityTests
{
    static readonly string Root = Repo.Root;

    /// <summary>The Functions host answers Durable's management routes itself: no trigger of ours may claim them.</summary>
    const string DurableManagementPrefix = "/runtime/webhooks/durabletask/";

    /// <summary>Azure-only functions, with why the local host has no counterpart.</summary>
    static readonly Dictionary<string, string> AzureOnly = new()
    {
        [new HostEntry(HostSurface.Timer, "OutboxSweep").Key] = "the local host's consumers read topic_message directly; nothing is relayed",
    };

    static HostSurface Local() => HostSurface.Local(
        HostSurface.ParseFolder(Path.Combine(Root, "functions", "Cdp.Functions.Local")),
        [.. HostSurface.ParseFolder(Path.Combine(Root, "shared")), .. HostSurface.ParseFolder(Path.Combine(Root, "orchestrations"))],
        [
            .. ApiRoutes.All.SelectMany(r => r.Methods.Select(m => (m, "/api/" + r.Path))),
            .. OrchestrationRoutes.DurableStyle.SelectMany(r => r.Methods.Select(m => (m, "/" + r.Path))),
        ]);

    static HostSurface Azure() => HostSurface.Azure(
        HostSurface.ParseFolder(Path.Combine(Root, "functions", "Cdp.Functions")),
        [.. HostSurface.ParseFolder(Path.Combine(Root, "shared")), .. HostSurface.ParseFolder(Path.Combine(Root, "orchestrations"))]);

    [Fact]
    public void Every_local_route_consumer_orchestration_and_timer_has_an_Azure_function()
    {
        var local = Local();
        var durableRoutes = local.Entries.Where(e => e.Kind == HostSurface.Route && e.Shown.Split(' ')[1].StartsWith(DurableManagementPrefix, StringComparison.Ordinal))
            .Select(e => e.Key).ToHashSet();
        var missing = Azure().Lacks(local, durableRoutes);
        Assert.True(missing.Count == 0,
            "The local host has these with no Azure counterpart in functions/Cdp.Functions:\n  " + string.Join("\n  ", missing));
    }

    [Fact]
    public void Every_Azure_function_has_a_local_counterpart()
    {
        var extra = Local().Lacks(Azure(), AzureOnly.Keys.ToHashSet());
        Assert.True(extra.Count == 0,
            "functions/Cdp.Functions has these with no local-host counterpart (add them to the local host, or to AzureOnly with a reason):\n  "
            + string.Join("\n  ", extra));
    }

    [Fact]
    public void The_surfaces_are_not_empty_so_a_broken_extractor_cannot_pass_silently()
    {
        var local = Local();
        foreach (var kind in new[] { HostSurface.Route, HostSurface.Topic, HostSurface.Orchestrator, HostSurface.Activity, HostSurface.Timer })
            Assert.Contains(local.Entries, e => e.Kind == kind);
        Assert.Contains(local.Entries, e => e.ToString() == "route POST /api/leads/{leadId:guid}/convert");
        Assert.Contains(local.Entries, e => e.ToString() == "route GET /runtime/webhooks/durabletask/instances/{instanceId}");
        Assert.Contains(local.Entries, e => e.ToString() == "topic event-stream");
        Assert.Contains(Azure().Entries, e => e.ToString() == "orchestrator SyncThenRetry");
    }

    /// <summary>The Kafka trigger files are left out of the build here (their extension is not served), so at least their syntax is checked.</summary>
    [Fact]
    public void The_Azure_sources_parse_without_syntax_errors()
    {
        var errors = HostSurface.ParseFolder(Path.Combine(Root, "functions", "Cdp.Functions"))
            .SelectMany(t => t.GetDiagnostics())
            .Where(d => d.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error)
            .Select(d => d.ToString()).ToList();
        Assert.True(errors.Count == 0, string.Join("\n", errors));
    }

    /// <summary>
    /// The core admits or refuses every caller (a function key cannot be kept secret by a browser page, the WeCom sidebar
    /// or a website SDK), so every HTTP trigger is Anonymous at the Functions level.
    /// </summary>
    [Fact]
    public void Every_HTTP_trigger_is_anonymous_at_the_Functions_level_because_the_core_checks_the_caller()
    {
        var wrong = Azure().Authorization.Where(a => a.Value != "Anonymous").Select(a => $"{a.Key}: {a.Value}").ToList();
        Assert.True(wrong.Count == 0, "Not AuthorizationLevel.Anonymous:\n  " + string.Join("\n  ", wrong));
        Assert.NotEmpty(Azure().Authorization);
    }

    [Fact]
    public void The_comparer_names_a_route_the_Azure_host_lacks_and_one_only_it_has()
    {
        var local = HostSurface.Local([HostSurface.Parse("""
            static class Endpoints
            {
                const string Base = "/api/things";
                public static void Map(WebApplication app)
                {
                    app.MapGet(Base + "/{id:guid}", () => 1);
                    var admin = app.MapGroup("/api/admin");
                    admin.MapPost("/purge", () => 2);
                    app.MapGroup("/api").MapGroup("/v2").MapDelete("things/{id}", () => 3);
                }
            }
            """)], []);
        var azure = HostSurface.Azure([HostSurface.Parse("""
            public sealed class Functions
            {
                [Function("GetThing")]
                public IResult Get([HttpTrigger(AuthorizationLevel.Function, "get", Route = "things/{thingId}")] HttpRequest r) => null;
                [Function("DeleteThing")]
                public IResult Delete([HttpTrigger(AuthorizationLevel.Function, "delete", Route = "v2/things/{id:guid}")] HttpRequest r) => null;
                [Function("Extra")]
                public IResult Extra([HttpTrigger(AuthorizationLevel.Function, "put", Route = "extra")] HttpRequest r) => null;
            }
            """)], []);

        Assert.Equal(["route POST /api/admin/purge"], azure.Lacks(local).Select(e => e.ToString()));
        Assert.Equal(["route PUT /api/extra"], local.Lacks(azure).Select(e => e.ToString()));
    }

    [Fact]
    public void The_comparer_names_a_missing_consumer_activity_and_timer()
    {
        var core = HostSurface.Parse("""
            public static class Topics { public const string A = "topic-a"; public const string B = "topic-b"; }
            sealed class HandlesA : ITopicHandler { public string Topic => Topics.A; }
            sealed class HandlesB : ITopicBatchHandler { public string Topic => Topics.B; }
            static class Reg { static void Add(IServiceCollection s) { s.AddOrchestrator<Flow>(); s.AddActivity<Step>(); s.AddActivity<Other>(); } }
            """);
        var local = HostSurface.Local([HostSurface.Parse("builder.Services.AddHostedService<NightlyTimer>();")], [core]);
        var azure = HostSurface.Azure([HostSurface.Parse("""
            public sealed class F
            {
                [Function("A")] public Task A([KafkaTrigger("Broker", Topics.A, IsBatched = true)] KafkaRecord[] r) => null;
                [Function(nameof(Flow))] public Task Flow([OrchestrationTrigger] TaskOrchestrationContext c) => null;
                [Function(nameof(Step))] public Task Step([ActivityTrigger] string s) => null;
            }
            """)], [core]);

        Assert.Equal(["activity Other", "timer NightlyTimer", "topic topic-b"], azure.Lacks(local).Select(e => e.ToString()));
        Assert.Empty(local.Lacks(azure));
    }
}
