using System.Reflection;
using Cdp.Functions;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Cdp.Tests.Hosting;

/// <summary>
/// The Azure host's HTTP functions called the way the Functions worker's ASP.NET Core integration calls them, without
/// the Functions host (which cannot be installed here): the service provider <see cref="Cdp.Functions.AzureHost.AddAzureHost"/>
/// builds, a function class activated per invocation from a request scope, a real ASP.NET Core request
/// (DefaultHttpContext), route values bound from the trigger's route template with its constraints, and the IResult it
/// returns executed against that context.
/// </summary>
public sealed class AzureFunctionsHost : IAsyncDisposable
{
    readonly IHost host;

    AzureFunctionsHost(IHost host) => this.host = host;

    public IServiceProvider Services => host.Services;

    /// <summary>
    /// Builds (does not start: no background consumers, relays or timers) the Azure host over <paramref name="settings"/>,
    /// as Program.cs does (<see cref="Cdp.Functions.AzureHost.AddAzureHost"/>), with <paramref name="logs"/> as its only log output.
    /// </summary>
    public static AzureFunctionsHost Create(
        IEnumerable<KeyValuePair<string, string?>> settings, ILoggerProvider? logs = null, Action<IServiceCollection>? configureServices = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Development" });
        builder.Configuration.AddInMemoryCollection(settings);
        if (logs is not null) builder.Logging.ClearProviders().AddProvider(logs);
        builder.AddAzureHost();
        configureServices?.Invoke(builder.Services);
        return new AzureFunctionsHost(builder.Build());
    }

    /// <summary>
    /// Sends <paramref name="request"/> (relative URI under /api) to the HTTP function whose trigger matches its method
    /// and path; <paramref name="durable"/> is what a [DurableClient] parameter receives (null for a request refused
    /// before any orchestration is touched).
    /// </summary>
    public async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, DurableTaskClient? durable = null)
    {
        var uri = new Uri(new Uri("http://localhost"), request.RequestUri!);
        var (function, routeValues) = Match(request.Method.Method, uri.AbsolutePath)
            ?? throw new InvalidOperationException($"No Azure HTTP function serves {request.Method} {uri.AbsolutePath} (the Functions host would answer 404).");

        await using var scope = host.Services.CreateAsyncScope();
        var http = new DefaultHttpContext { RequestServices = scope.ServiceProvider };
        http.Request.Method = request.Method.Method;
        http.Request.Scheme = uri.Scheme;
        http.Request.Host = new HostString(uri.Authority);
        http.Request.Path = uri.AbsolutePath;
        http.Request.QueryString = new QueryString(uri.Query);
        foreach (var (name, values) in request.Headers) http.Request.Headers[name] = values.ToArray();
        if (request.Content is not null)
        {
            foreach (var (name, values) in request.Content.Headers) http.Request.Headers[name] = values.ToArray();
            var body = await request.Content.ReadAsByteArrayAsync();
            http.Request.Body = new MemoryStream(body);
            http.Request.ContentLength = body.Length;
        }
        var responseBody = new MemoryStream();
        http.Response.Body = responseBody;

        var instance = ActivatorUtilities.CreateInstance(scope.ServiceProvider, function.DeclaringType!);
        var arguments = function.GetParameters().Select(object? (p) =>
            p.ParameterType == typeof(HttpRequest) ? http.Request
            : p.ParameterType == typeof(DurableTaskClient) ? durable
            : p.ParameterType == typeof(string) && routeValues.TryGetValue(p.Name!, out var value) ? value
            : throw new InvalidOperationException($"{function.Name}: no binding for parameter {p.Name}.")).ToArray();
        var result = await (Task<IResult>)function.Invoke(instance, arguments)!;
        await result.ExecuteAsync(http);

        var response = new HttpResponseMessage((System.Net.HttpStatusCode)http.Response.StatusCode)
        {
            Content = new ByteArrayContent(responseBody.ToArray()),
            RequestMessage = request,
        };
        foreach (var (name, values) in http.Response.Headers)
            if (!response.Headers.TryAddWithoutValidation(name, values.ToArray()))
                response.Content.Headers.TryAddWithoutValidation(name, values.ToArray());
        return response;
    }

    static readonly IReadOnlyList<(MethodInfo Function, string[] Methods, string[] Segments)> Triggers =
        typeof(Cdp.Functions.AzureHost).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance))
            .Select(m => (Function: m, Http: m.GetParameters().Select(p => p.GetCustomAttribute<HttpTriggerAttribute>()).FirstOrDefault(a => a is not null)))
            .Where(x => x.Http is not null && x.Function.GetCustomAttribute<FunctionAttribute>() is not null)
            .Select(x => (x.Function, x.Http!.Methods ?? [], ("api/" + x.Http.Route).Split('/')))
            .ToList();

    /// <summary>The Functions host's routing for our templates: literal segments, {name} and {name:guid} parameters.</summary>
    static (MethodInfo Function, Dictionary<string, string> RouteValues)? Match(string method, string path)
    {
        var segments = path.Trim('/').Split('/');
        foreach (var (function, methods, template) in Triggers)
        {
            if (!methods.Contains(method, StringComparer.OrdinalIgnoreCase) || template.Length != segments.Length) continue;
            var values = new Dictionary<string, string>();
            var matched = true;
            for (var i = 0; i < template.Length && matched; i++)
            {
                var segment = Uri.UnescapeDataString(segments[i]);
                if (template[i] is ['{', .., '}'] parameter)
                {
                    var (name, constraint) = parameter[1..^1].Split(':') is [var n, var c] ? (n, c) : (parameter[1..^1], "");
                    matched = constraint != "guid" || Guid.TryParse(segment, out _);
                    values[name] = segment;
                }
                else matched = string.Equals(template[i], segment, StringComparison.OrdinalIgnoreCase);
            }
            if (matched) return (function, values);
        }
        return null;
    }

    public async ValueTask DisposeAsync()
    {
        if (host is IAsyncDisposable asyncDisposable) await asyncDisposable.DisposeAsync();
        else host.Dispose();
    }
}
