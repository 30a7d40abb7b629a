using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using Cdp.Tests.Support;

namespace Cdp.Tests.Infrastructure;

/// <summary>
/// infra-bicep/ through the Bicep CLI that Cdp.Tests.csproj downloads (BicepCliVersion): main.bicep builds and lints,
/// and main.bicepparam builds with sample environment values, each without a single warning or error. Lint levels
/// are in infra-bicep/bicepconfig.json. A failure lists every diagnostic as "file(line,column) : Level CODE: message".
/// Compiled output goes to a temp folder, never into the repo.
/// </summary>
public sealed partial class BicepTests : IDisposable
{
    static readonly string Infra = Path.Combine(Repo.Root, "infra-bicep");
    static readonly Lazy<string> Cli = new(FindCli);

    /// <summary>A value for every variable main.bicepparam reads, each within main.bicep's length bounds.</summary>
    static readonly Dictionary<string, string?> SampleEnvironment = new()
    {
        ["CDP_POSTGRES_ADMIN_PASSWORD"] = "sample-postgres-password",
        ["CDP_SSH_PUBLIC_KEY"] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAISampleKeyForBicepTests cdp@test",
        ["CDP_CLICKHOUSE_PASSWORD"] = "sample-clickhouse-password",
        ["CDP_CRM_SIGNING_SECRET"] = "sample-crm-signing-secret-0123456789ab",
        ["CDP_WECHAT_SIGNING_SECRET"] = "sample-wechat-signing-secret-0123456789ab",
        ["CDP_ERP_SIGNING_SECRET"] = "sample-erp-signing-secret-0123456789ab",
        ["CDP_CALLS_SIGNING_SECRET"] = "sample-calls-signing-secret-0123456789ab",
        ["CDP_WECOM_CORP_ID"] = "ww0123456789abcdef",
        ["CDP_WECOM_TOKEN"] = "sample-wecom-token-0123456789abc",
        ["CDP_WECOM_ENCODING_AES_KEY"] = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
        ["CDP_WECOM_SECRET"] = "sample-wecom-secret-0123456789abcdef",
        ["CDP_WECOM_ALERT_WEBHOOK_URL"] = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=sample",
        ["CDP_WECOM_AGENT_ID"] = "1000002",
        ["CDP_AUTH_SESSION_KEY"] = "sample-session-key-0123456789abcdef0123456789",
        ["CDP_LOGGING_PII_HASH_KEY"] = "sample-pii-hash-key-0123456789abcdef0123456789",
    };

    readonly DirectoryInfo output = Directory.CreateTempSubdirectory("cdp-bicep-");

    public void Dispose() => output.Delete(recursive: true);

    [Fact]
    public async Task Main_template_builds_without_warnings()
    {
        (await Bicep(SampleEnvironment, "build", "main.bicep", "--outdir", output.FullName)).AssertClean();
        Assert.True(File.Exists(Path.Combine(output.FullName, "main.json")));
    }

    /// <summary>The app's Postgres connection string checks the server's certificate and host name, not only encryption.</summary>
    [Fact]
    public async Task Postgres_connection_string_verifies_the_server_certificate()
    {
        (await Bicep(SampleEnvironment, "build", "main.bicep", "--outdir", output.FullName)).AssertClean();
        var compiled = await File.ReadAllTextAsync(Path.Combine(output.FullName, "main.json"));
        Assert.Contains("SSL Mode=VerifyFull;", compiled, StringComparison.Ordinal);
        Assert.DoesNotContain("SSL Mode=Require", compiled, StringComparison.Ordinal);
        Assert.DoesNotContain("Trust Server Certificate", compiled, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Main_template_lints_without_warnings() =>
        (await Bicep(SampleEnvironment, "lint", "main.bicep")).AssertClean();

    [Fact]
    public async Task Parameters_file_builds_with_values_from_the_environment()
    {
        (await Bicep(SampleEnvironment, "build-params", "main.bicepparam", "--outdir", output.FullName)).AssertClean();

        using var parameters = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(output.FullName, "main.json")));
        var values = parameters.RootElement.GetProperty("parameters");
        Assert.Equal(SampleEnvironment["CDP_WECOM_CORP_ID"], values.GetProperty("wecomCorpId").GetProperty("value").GetString());
        Assert.Equal(SampleEnvironment["CDP_CLICKHOUSE_PASSWORD"], values.GetProperty("clickhousePassword").GetProperty("value").GetString());
    }

    /// <summary>The README's promise: an unset variable reads as '' and fails main.bicep's length bounds, one error each.</summary>
    [Fact]
    public async Task Parameters_file_fails_for_every_unset_variable()
    {
        var unset = SampleEnvironment.ToDictionary(e => e.Key, _ => (string?)null);
        var run = await Bicep(unset, "build-params", "main.bicepparam", "--outdir", output.FullName);

        Assert.NotEqual(0, run.ExitCode);
        var errors = run.Diagnostics.Where(d => d.Level == "Error").ToList();
        Assert.All(errors, d => Assert.Equal(("infra-bicep/main.bicepparam", "BCP333"), (d.File, d.Code)));
        Assert.Equal(SampleEnvironment.Count, errors.Count);
    }

    /// <summary>Runs the CLI in infra-bicep/ with the given variables set (or, when null, removed).</summary>
    static async Task<BicepRun> Bicep(IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        var info = new ProcessStartInfo(Cli.Value)
        {
            WorkingDirectory = Infra,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        foreach (var (name, value) in environment)
            if (value is null) info.Environment.Remove(name);
            else info.Environment[name] = value;

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(3));
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        var text = (await stdout + await stderr).ReplaceLineEndings("\n").Trim();
        var diagnostics = DiagnosticLine().Matches(text)
            .Select(m => new BicepDiagnostic(
                Path.GetRelativePath(Repo.Root, m.Groups["file"].Value),
                m.Groups["position"].Value, m.Groups["level"].Value, m.Groups["code"].Value, m.Groups["message"].Value))
            .ToList();
        return new BicepRun("bicep " + string.Join(' ', args), process.ExitCode, text, diagnostics);
    }

    static string FindCli()
    {
        var path = typeof(BicepTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "BicepCli").Value!;
        if (!File.Exists(path))
            throw new InvalidOperationException($"Bicep CLI not found at {path}: restore tests/Cdp.Tests (PackageDownload in Cdp.Tests.csproj).");
        // NuGet does not promise to keep the executable bit when it extracts a package (the package is linux-x64 only).
        if (OperatingSystem.IsWindows()) throw new PlatformNotSupportedException("Cdp.Tests downloads the linux-x64 Bicep CLI.");
        var mode = File.GetUnixFileMode(path);
        if (!mode.HasFlag(UnixFileMode.UserExecute))
            File.SetUnixFileMode(path, mode | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        return path;
    }

    // e.g. /repo/infra-bicep/modules/storage.bicep(89,77) : Warning BCP318: The value of type ...
    [GeneratedRegex(@"^(?<file>.+?)\((?<position>\d+,\d+)\) : (?<level>Error|Warning|Info) (?<code>[^:\s]+): (?<message>.*)$", RegexOptions.Multiline)]
    private static partial Regex DiagnosticLine();

    sealed record BicepDiagnostic(string File, string Position, string Level, string Code, string Message)
    {
        public override string ToString() => $"{File}({Position}) : {Level} {Code}: {Message}";
    }

    sealed record BicepRun(string Command, int ExitCode, string Output, IReadOnlyList<BicepDiagnostic> Diagnostics)
    {
        /// <summary>Exit code 0 and no warning or error: warnings count as errors, as in the C# build.</summary>
        public void AssertClean()
        {
            var problems = Diagnostics.Where(d => d.Level != "Info").ToList();
            if (ExitCode == 0 && problems.Count == 0) return;
            Assert.Fail(problems.Count > 0
                ? $"{Command} reported {problems.Count} problem(s) (warnings count as errors):\n{string.Join('\n', problems)}"
                : $"{Command} exited with {ExitCode}:\n{Output}");
        }
    }
}
