using System.Net;
using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using Cdp.Orchestrations;
using Cdp.Shared.Api;
using Cdp.Shared.Telemetry;
using Cdp.Tests.Support;
using Microsoft.AspNetCore.Routing;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.DependencyInjection;

namespace Cdp.Tests.Hosting;

/// <summary>
/// The core's route table is the product's HTTP surface: the compiled Azure host has exactly one HTTP trigger per route
/// (same name, methods and path) that hands its request to that route, the running local host maps exactly those routes,
/// and the OpenAPI document lists exactly them.
/// </summary>
public sealed class RouteTableTests(CdpApp app) : IClassFixture<CdpApp>
{
    /// <summary>"GET /api/accounts/{accountId:guid}" per method of every core route.</summary>
    static IReadOnlySet<string> CoreRoutes() =>
        ApiRoutes.All.SelectMany(r => r.Methods.Select(m => $"{m} /api/{r.Path}")).ToHashSet();

    [Fact]
    public void Route_names_and_paths_are_unique()
    {
        Assert.Equal(ApiRoutes.All.Count, ApiRoutes.All.Select(r => r.Name).Distinct().Count());
        Assert.Equal(ApiRoutes.All.Sum(r => r.Methods.Count), CoreRoutes().Count);
    }

    [Fact]
    public void The_compiled_Azure_host_has_one_trigger_per_core_route_with_its_name_methods_and_path()
    {
        var triggers = AzureHttpTriggers();
        var byName = ApiRoutes.All.ToDictionary(r => r.Name);

        var unknown = triggers.Where(t => !byName.ContainsKey(t.Name)).Select(t => t.Name).ToList();
        Assert.True(unknown.Count == 0, "HTTP triggers that are no core route: " + string.Join(", ", unknown));
        var missing = byName.Keys.Except(triggers.Select(t => t.Name)).ToList();
        Assert.True(missing.Count == 0, "Core routes with no HTTP trigger in functions/Cdp.Functions: " + string.Join(", ", missing));
        foreach (var trigger in triggers)
        {
            var route = byName[trigger.Name];
            Assert.Equal(route.Path, trigger.Path);
            Assert.Equal(route.Methods.Order(), trigger.Methods.Select(m => m.ToUpperInvariant()).Order());
        }
    }

    /// <summary>A trigger named after one route must run that route, not a neighbour's (a copy-paste slip compiles fine).</summary>
    [Fact]
    public void Each_Azure_trigger_runs_the_route_it_is_named_after()
    {
        var wrong = new List<string>();
        foreach (var file in Directory.EnumerateFiles(Path.Combine(Repo.Root, "functions", "Cdp.Functions", "Http"), "*.cs"))
        {
            var source = File.ReadAllText(file);
            foreach (Match m in Regex.Matches(source, @"\[Function\(nameof\((\w+)\.(\w+)\)\)\][^;]*?RunAsync\((\w+)\.(\w+)[,)]", RegexOptions.Singleline))
                if (m.Groups[1].Value != m.Groups[3].Value || m.Groups[2].Value != m.Groups[4].Value)
                    wrong.Add($"{Path.GetFileName(file)}: {m.Groups[2].Value} runs {m.Groups[3].Value}.{m.Groups[4].Value}");
        }
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
        Assert.Equal(ApiRoutes.All.Count, AzureHttpTriggers().Count);
    }

    [Fact]
    public void The_local_host_maps_exactly_the_core_routes_and_the_Durable_style_management_paths()
    {
        var mapped = app.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.Metadata.GetMetadata<HttpMethodMetadata>() is not null)
            .SelectMany(e => e.Metadata.GetMetadata<HttpMethodMetadata>()!.HttpMethods.Select(m => $"{m} /{e.RoutePattern.RawText!.TrimStart('/')}"))
            .Where(e => !e.EndsWith(" /api/openapi.json", StringComparison.Ordinal))
            .ToHashSet();
        var expected = CoreRoutes().Concat(OrchestrationRoutes.DurableStyle.Concat(TelemetryRoutes.LocalRoot).SelectMany(r => r.Methods.Select(m => $"{m} /{r.Path}"))).ToHashSet();

        Assert.Equal(expected.Order(), mapped.Order());
    }

    [Fact]
    public async Task The_OpenAPI_document_lists_every_core_route_and_nothing_else()
    {
        using var response = await app.Client.GetAsync("/api/openapi.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        var listed = document.RootElement.GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject()
                .Where(op => op.Name is "get" or "post" or "put" or "delete" or "patch")
                .Select(op => $"{op.Name.ToUpperInvariant()} {path.Name}"))
            .ToHashSet();
        // OpenAPI paths carry parameter names without their constraints; CORS preflights are no operation.
        var expected = CoreRoutes().Where(r => !r.StartsWith("OPTIONS ", StringComparison.Ordinal))
            .Select(r => Regex.Replace(r, @"\{(\w+):[^}]+\}", "{$1}")).ToHashSet();

        Assert.Equal(expected.Order(), listed.Order());
        Assert.All(document.RootElement.GetProperty("paths").EnumerateObject().SelectMany(p => p.Value.EnumerateObject()),
            op => Assert.True(op.Value.TryGetProperty("operationId", out _), $"{op.Name} has no operationId"));
    }

    [Fact]
    public async Task A_path_no_route_serves_answers_404_as_problem_details_with_a_trace_id()
    {
        using var response = await app.Client.GetAsync("/api/no-such-route");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(404, body.GetProperty("status").GetInt32());
        Assert.Equal("https://httpwg.org/specs/rfc9110.html#status.404", body.GetProperty("type").GetString());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("traceId").GetString()));
    }

    public sealed record Trigger(string Name, IReadOnlyList<string> Methods, string Path);

    /// <summary>Every [Function] method of the compiled Azure host with an [HttpTrigger] parameter, as the worker's metadata generator reads it.</summary>
    public static IReadOnlyList<Trigger> AzureHttpTriggers() =>
        typeof(Cdp.Functions.AzureHost).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static))
            .Select(m => (Function: m.GetCustomAttribute<FunctionAttribute>(),
                Http: m.GetParameters().Select(p => p.GetCustomAttribute<HttpTriggerAttribute>()).FirstOrDefault(a => a is not null)))
            .Where(x => x.Function is not null && x.Http is not null)
            .Select(x => new Trigger(x.Function!.Name, x.Http!.Methods ?? [], x.Http.Route ?? x.Function.Name))
            .ToList();
}
