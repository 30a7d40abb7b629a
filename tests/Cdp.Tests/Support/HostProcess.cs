using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Cdp.Tests.Support;

/// <summary>
/// The local host as a separate OS process (the same build the tests reference), so tests can race two hosts
/// or SIGKILL one mid-work. Settings travel as environment variables, as in production.
/// </summary>
public sealed class HostProcess : IAsyncDisposable
{
    readonly Process process;
    readonly List<string> output = [];

    public Uri BaseUrl { get; }
    public HttpClient Client { get; }
    public int Pid => process.Id;
    public IReadOnlyList<string> Output { get { lock (output) return [.. output]; } }

    HostProcess(Process process, Uri baseUrl, string? adminKey)
    {
        this.process = process;
        BaseUrl = baseUrl;
        Client = new HttpClient { BaseAddress = baseUrl, Timeout = TimeSpan.FromSeconds(30) };
        // Calls as the bootstrap admin the settings give the host, so a test or bench reaches every route.
        if (adminKey is not null) Client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", adminKey);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.Add(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.Add(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public static async Task<HostProcess> StartAsync(IReadOnlyDictionary<string, string?> settings)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Cdp.Functions.Local.dll");
        var url = new Uri($"http://127.0.0.1:{FreePort()}");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(dll);
        info.ArgumentList.Add("--urls");
        info.ArgumentList.Add(url.ToString());
        foreach (var (key, value) in settings) info.Environment[key.Replace(":", "__")] = value;
        info.Environment["Logging__LogLevel__Default"] = "Warning";
        var host = new HostProcess(Process.Start(info)!, url, settings.GetValueOrDefault("Auth:BootstrapAdminKey"));
        await Eventually.Until(async () =>
        {
            if (host.process.HasExited) throw new InvalidOperationException("Host exited:\n" + string.Join('\n', host.Output));
            try { using var r = await host.Client.GetAsync("/api/ingestions/00000000-0000-0000-0000-000000000000"); return r.StatusCode == HttpStatusCode.NotFound; }
            catch (HttpRequestException) { return false; }
        }, TimeSpan.FromSeconds(30));
        return host;
    }

    /// <summary>SIGKILL: no shutdown hooks, no lease release — a crash.</summary>
    public void Kill()
    {
        process.Kill(entireProcessTree: true);
        process.WaitForExit();
    }

    /// <summary>SIGTERM: the graceful path (consumers finish or release their claims).</summary>
    public async Task StopAsync()
    {
        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) await kill.WaitForExitAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (!process.HasExited) Kill();
        process.Dispose();
        await Task.CompletedTask;
    }

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
