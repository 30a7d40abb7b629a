using System.Diagnostics;
using System.Text.Json;
using Cdp.Tests.Support;
using Cdp.Tests.Sync;

namespace Cdp.Tests.Web;

/// <summary>
/// The local host as its own process on a real loopback port (a browser needs one), serving the pages built from web/,
/// on a <see cref="CdpBackend"/> (own database, the WeCom stand-in) with quick sync retries (1 s doubling, at most 4 s).
/// <see cref="RunAsync"/> drives Debian's Chromium through one scenario of web/e2e/run.mjs.
/// </summary>
public sealed class WebHost : CdpBackend
{
    public HostProcess Host { get; private set; } = null!;
    public HttpClient Client => Host.Client;
    public PrivacyNumberStandIn Provider { get; private set; } = null!;

    public static string WebDir => Path.Combine(Repo.Root, "web");
    /// <summary>
    /// Where each scenario saves its screenshot: .cdp/screenshots (not tracked), or CDP_SCREENSHOTS_DIR — README's
    /// pictures are refreshed with <c>CDP_SCREENSHOTS_DIR=docs/screenshots ./cdp test</c>.
    /// </summary>
    public static string Screenshots => Environment.GetEnvironmentVariable("CDP_SCREENSHOTS_DIR") is { Length: > 0 } dir
        ? Path.GetFullPath(dir, Repo.Root)
        : Path.Combine(Repo.Root, ".cdp", "screenshots");

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await WebBuild.EnsureAsync();
        Provider = await PrivacyNumberStandIn.StartAsync();
        var settings = new Dictionary<string, string?>(Settings)
        {
            ["Web:Root"] = Path.Combine(WebDir, "dist"),
        };
        foreach (var (key, value) in SyncApp.SyncSettings(WeCom, TimeSpan.FromSeconds(1))) settings[key] = value;
        settings["Sync:MaxRetryInterval"] = "00:00:04";
        foreach (var (key, value) in VirtualNumbers.VirtualNumberApp.VirtualNumberSettings(Provider, WeCom, TimeSpan.FromMinutes(30))) settings[key] = value;
        // The call button's first answer comes before a slow provider's: the page shows "binding..." and polls.
        settings["VirtualNumbers:WaitTimeout"] = "00:00:01";
        settings["VirtualNumbers:AttemptTimeout"] = "00:00:20";
        Host = await HostProcess.StartAsync(settings);
    }

    public override async Task DisposeAsync()
    {
        await Host.DisposeAsync();
        await Provider.DisposeAsync();
        await base.DisposeAsync();
    }

    /// <summary>Runs one browser scenario; fails the test with the script's reason (and the host's output) unless it passed.</summary>
    public async Task<JsonElement> RunAsync(string scenario, object input)
    {
        var arguments = JsonSerializer.SerializeToElement(input);
        var merged = new Dictionary<string, object?>
        {
            ["baseUrl"] = Host.BaseUrl.ToString().TrimEnd('/'),
            ["weComUrl"] = WeCom.BaseUrl.ToString().TrimEnd('/'),
            ["shots"] = Screenshots,
            ["failures"] = Path.Combine(Path.GetTempPath(), "cdp-web-failures"),
        };
        foreach (var p in arguments.EnumerateObject()) merged[p.Name] = p.Value;

        var info = new ProcessStartInfo("node") { WorkingDirectory = WebDir, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine("e2e", "run.mjs"));
        info.ArgumentList.Add(scenario);
        info.ArgumentList.Add(JsonSerializer.Serialize(merged));
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        try { await process.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException) { process.Kill(entireProcessTree: true); }
        var lastLine = (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "{}";
        Assert.True(process.ExitCode == 0,
            $"browser scenario {scenario} failed ({process.ExitCode}): {lastLine}\n{await stderr}\nhost:\n{string.Join('\n', Host.Output.TakeLast(40))}");
        return JsonDocument.Parse(lastLine).RootElement.Clone();
    }
}

/// <summary>web/ built once per test run: npm ci when node_modules is missing, npm run build when dist is older than the sources.</summary>
public static class WebBuild
{
    static readonly SemaphoreSlim Gate = new(1, 1);
    static bool done;

    public static async Task EnsureAsync()
    {
        await Gate.WaitAsync();
        try
        {
            if (done) return;
            var web = WebHost.WebDir;
            if (!Directory.Exists(Path.Combine(web, "node_modules", "playwright-core"))) await NpmAsync("ci", "--no-audit", "--no-fund");
            var index = Path.Combine(web, "dist", "index.html");
            var newest = Directory.EnumerateFiles(Path.Combine(web, "src"), "*", SearchOption.AllDirectories)
                .Append(Path.Combine(web, "index.html")).Append(Path.Combine(web, "sidebar", "index.html"))
                .Max(File.GetLastWriteTimeUtc);
            if (!File.Exists(index) || File.GetLastWriteTimeUtc(index) < newest) await NpmAsync("run", "build");
            done = true;
        }
        finally { Gate.Release(); }
    }

    static async Task NpmAsync(params string[] args)
    {
        var info = new ProcessStartInfo("npm") { WorkingDirectory = WebHost.WebDir, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"npm {string.Join(' ', args)} failed:\n{await output}\n{await errors}");
    }
}
