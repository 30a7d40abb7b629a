namespace Cdp.Functions.Local;

public static class LocalHost
{
    /// <summary>
    /// Settings as the Functions host reads them: local.settings.json "Values" (copied from the sample when
    /// absent), with environment variables and the command line still overriding.
    /// </summary>
    public static IConfigurationBuilder AddLocalSettings(this IConfigurationManager config, string contentRoot)
    {
        var file = Path.Combine(contentRoot, "local.settings.json");
        var sample = Path.Combine(contentRoot, "local.settings.sample.json");
        var path = File.Exists(file) ? file : sample;
        if (!File.Exists(path)) return config;

        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path));
        var values = new Dictionary<string, string?>();
        if (doc.RootElement.TryGetProperty("Values", out var v))
            foreach (var p in v.EnumerateObject()) values[p.Name.Replace("__", ":")] = p.Value.ToString();
        if (doc.RootElement.TryGetProperty("ConnectionStrings", out var cs))
            foreach (var p in cs.EnumerateObject()) values[$"ConnectionStrings:{p.Name}"] = p.Value.ToString();
        config.AddInMemoryCollection(values);
        config.AddEnvironmentVariables();
        config.AddCommandLine(Environment.GetCommandLineArgs().Skip(1).ToArray());
        return config;
    }

    public static WebApplicationBuilder AddLocalHost(this WebApplicationBuilder builder)
    {
        // Requests naming another Host header are refused (400) before any route runs: "AllowedHosts", ';'-separated.
        builder.Services.AddHostFiltering(o =>
        {
            var hosts = builder.Configuration["AllowedHosts"]?.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (hosts is { Length: > 0 }) o.AllowedHosts = hosts;
        });
        builder.Services.AddProblemDetails();
        builder.Services.AddWebPages();
        builder.Services.AddExceptionHandler<ApiProblemHandler>();
        builder.Services.AddOpenApi(o =>
        {
            o.AddDocumentTransformer((document, _, _) =>
            {
                document.Info.Title = "Cdp.Functions";
                document.Info.Description = "The customer data platform's HTTP API (both hosts serve the same routes under /api).";
                return Task.CompletedTask;
            });
            ApiDocs.Describe(o);
        });
        // Consumers finish or release their claimed messages within this on SIGTERM.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(20));
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = 4 * 1024 * 1024);
        builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; });
        // "Request starting/finished" lines carry the whole URL, and /api/search?q= holds phones and emails (PIPL);
        // settings cannot turn them back on. Failures still reach the log through ApiProblemHandler.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Warning);
        return builder;
    }
}
