using System.Diagnostics;
using System.Net.Sockets;

namespace Cdp.Tests.Support;

/// <summary>
/// A Redis server of a test's own (the Debian redis-server on a free loopback port, no persistence), for tests that
/// stop Redis under a running host without disturbing the Redis every other test shares.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    Process? process;

    public int Port { get; } = HostProcess.FreePort();
    public string Address => $"127.0.0.1:{Port},abortConnect=false";

    public static async Task<RedisServer> StartAsync()
    {
        var server = new RedisServer();
        await server.RestartAsync();
        return server;
    }

    /// <summary>Starts it (again, empty) on the same port and waits until it accepts connections.</summary>
    public async Task RestartAsync()
    {
        Stop();
        process = Process.Start(new ProcessStartInfo("redis-server",
            ["--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--protected-mode", "no"])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        })!;
        process.OutputDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        await Eventually.Until(async () =>
        {
            using var client = new TcpClient();
            try { await client.ConnectAsync("127.0.0.1", Port); return true; }
            catch (SocketException) { return false; }
        }, TimeSpan.FromSeconds(10), $"redis-server on {Port}");
    }

    /// <summary>Kills it at once, as a crash or an outage would.</summary>
    public void Stop()
    {
        if (process is null) return;
        if (!process.HasExited) process.Kill(entireProcessTree: true);
        process.WaitForExit();
        process.Dispose();
        process = null;
    }

    public ValueTask DisposeAsync()
    {
        Stop();
        return ValueTask.CompletedTask;
    }
}
