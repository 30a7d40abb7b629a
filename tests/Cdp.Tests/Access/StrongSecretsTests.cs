using System.Net;
using System.Text.Json;
using Cdp.Functions;
using Cdp.Shared.Access;
using Cdp.Shared.Ingestion;
using Cdp.Tests.Support;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cdp.Tests.Access;

/// <summary>Outside Development the hosts refuse sample, short or shared secrets at start; a channel accepts its previous secret.</summary>
public sealed class StrongSecretsTests(StrongSecretsTests.App app) : IClassFixture<StrongSecretsTests.App>
{
    public sealed class App : CdpApp
    {
        public const string PreviousCrmSecret = "previous-crm-secret-0123456789abcdef";
        protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings => [new("Channels:crm:PreviousSigningSecret", PreviousCrmSecret)];
    }

    /// <summary>The secret settings of both committed sample files, with their values, as configuration keys.</summary>
    static Dictionary<string, string?> SampleSecrets()
    {
        var samples = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var file in new[] { "local.settings.sample.json", "functions/Cdp.Functions/local.settings.sample.json" })
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Repo.Root, file)));
            foreach (var p in doc.RootElement.GetProperty("Values").EnumerateObject())
            {
                var key = p.Name.Replace("__", ":", StringComparison.Ordinal);
                if (key.StartsWith("Channels:", StringComparison.Ordinal) || key is "WeCom:Token" or "WeCom:EncodingAesKey" or "WeCom:Secret" or "Auth:SessionKey" or "VirtualNumbers:AccessKeySecret")
                    samples[key] = p.Value.GetString();
            }
        }
        return samples;
    }

    static Dictionary<string, string?> Strong()
    {
        var settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["WeCom:Token"] = new string('t', 32),
            ["WeCom:EncodingAesKey"] = WeComStandIn.DefaultEncodingAesKey,
            ["WeCom:Secret"] = new string('s', 43),
            ["Auth:SessionKey"] = new string('k', 64),
        };
        // crm-aaaa..., wechat-bbbb..., one distinct strong secret per HMAC channel of the registry.
        var fill = 'a';
        foreach (var channel in ChannelRegistry.All.Where(c => c.Signature == SignatureScheme.Hmac))
            settings[$"{channel.SettingsSection}:SigningSecret"] = $"{channel.Name}-" + new string(fill++, 40);
        return settings;
    }

    /// <summary>Only the secrets check, started in <paramref name="environment"/>.</summary>
    static async Task<Exception?> StartAsync(string environment, IDictionary<string, string?> settings, LogCapture? logs = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = environment, DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        if (logs is not null) builder.Logging.AddProvider(logs);
        builder.Services.AddStrongSecrets();
        using var host = builder.Build();
        try { await host.StartAsync(); await host.StopAsync(); return null; }
        catch (OptionsValidationException e) { return e; }
    }

    [Fact]
    public void The_privacy_number_AccessKey_secret_is_required_with_the_new_adapter_and_held_to_Alibabas_30_characters()
    {
        var settings = Strong();
        List<string> Weak() => StrongSecrets.Check(new ConfigurationBuilder().AddInMemoryCollection(settings).Build()).Weak;
        Assert.Empty(Weak());
        settings["VirtualNumbers:ProviderBaseUrl"] = "https://dyplsapi.aliyuncs.com/";
        Assert.Equal(["VirtualNumbers:AccessKeySecret is not set"], Weak());
        settings["VirtualNumbers:AccessKeySecret"] = "local-alibaba-secret-change-me";
        Assert.Equal(["VirtualNumbers:AccessKeySecret is a sample value from the repository"], Weak());
        settings["VirtualNumbers:AccessKeySecret"] = new string('x', 29);
        Assert.Equal(["VirtualNumbers:AccessKeySecret is shorter than 30 bytes"], Weak());
        settings["VirtualNumbers:AccessKeySecret"] = new string('x', 30);
        Assert.Empty(Weak());
    }

    [Fact]
    public void Every_secret_in_the_committed_sample_files_counts_as_a_sample()
    {
        var samples = SampleSecrets();
        Assert.True(samples.Count >= 7);
        foreach (var (key, value) in samples) Assert.True(StrongSecrets.IsSample(value!), key);
    }

    [Fact]
    public async Task The_local_host_in_Production_with_a_sample_secret_refuses_to_start_naming_the_setting()
    {
        var settings = new Dictionary<string, string?>(app.Settings) { ["Channels:crm:SigningSecret"] = "local-crm-secret-change-me" };
        await using var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(b => b
            .UseEnvironment("Production")
            .ConfigureAppConfiguration(c => c.AddInMemoryCollection(settings)));
        var refused = Assert.ThrowsAny<Exception>(() => factory.Services);
        var message = (refused as OptionsValidationException ?? refused.InnerException ?? refused).Message;
        Assert.Contains("Channels:crm:SigningSecret is a sample value from the repository", message, StringComparison.Ordinal);
        Assert.DoesNotContain("local-crm-secret-change-me", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_local_host_in_Production_with_proper_secrets_starts()
    {
        await using var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(b => b
            .UseEnvironment("Production")
            .ConfigureAppConfiguration(c => c.AddInMemoryCollection(app.Settings)));
        using var client = CdpApp.AsAdmin(factory.CreateClient());
        using var me = await client.GetAsync("/api/auth/me");
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
    }

    [Fact]
    public async Task The_Azure_host_in_Production_with_a_sample_secret_refuses_to_start()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = "Production" });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(app.Settings)
        {
            ["WeCom:Secret"] = "local-wecom-secret-change-me",
            // The Kafka producer is built (not connected) before the check runs.
            ["KafkaBrokerList"] = "127.0.0.1:9",
            ["EventHubConnectionString"] = "Endpoint=sb://localhost/;SharedAccessKeyName=cdp;SharedAccessKey=none",
        });
        builder.AddAzureHost();
        using var host = builder.Build();
        var refused = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("WeCom:Secret is a sample value from the repository", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Outside_Development_sample_short_and_unset_secrets_are_each_named()
    {
        var settings = SampleSecrets();
        settings["Auth:BootstrapAdminKey"] = "short";
        settings["Events:SiteSecret"] = "also-short";
        settings.Remove("Channels:erp:SigningSecret");
        var refused = await StartAsync("Production", settings);
        var message = Assert.IsType<OptionsValidationException>(refused).Message;
        foreach (var setting in new[] { "Channels:crm:SigningSecret", "Channels:wechat:SigningSecret", "WeCom:Token", "WeCom:EncodingAesKey", "WeCom:Secret", "Auth:SessionKey" })
            Assert.Contains($"{setting} is a sample value", message, StringComparison.Ordinal);
        Assert.Contains("Auth:BootstrapAdminKey is shorter than 32 bytes", message, StringComparison.Ordinal);
        Assert.Contains("Events:SiteSecret is shorter than 32 bytes", message, StringComparison.Ordinal);
        Assert.Contains("Channels:erp:SigningSecret is not set", message, StringComparison.Ordinal);
        Assert.DoesNotContain("change-me", message, StringComparison.Ordinal);

        Assert.Null(await StartAsync("Production", Strong()));
        Assert.Null(await StartAsync("Staging", Strong()));
    }

    [Fact]
    public async Task In_Development_the_samples_start_with_one_warning_line()
    {
        var logs = new LogCapture();
        Assert.Null(await StartAsync("Development", SampleSecrets(), logs));
        var warning = Assert.Single(logs.Lines, l => l.StartsWith("Warning", StringComparison.Ordinal));
        Assert.Contains("Channels:crm:SigningSecret is a sample value", warning, StringComparison.Ordinal);
        Assert.DoesNotContain("change-me", warning, StringComparison.Ordinal);

        var quiet = new LogCapture();
        Assert.Null(await StartAsync("Development", Strong(), quiet));
        Assert.DoesNotContain(quiet.Lines, l => l.StartsWith("Warning", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("Development")]
    [InlineData("Production")]
    public async Task Two_channels_sharing_a_signing_secret_are_refused(string environment)
    {
        var shared = Strong();
        shared["Channels:erp:PreviousSigningSecret"] = shared["Channels:crm:SigningSecret"];
        var message = Assert.IsType<OptionsValidationException>(await StartAsync(environment, shared)).Message;
        Assert.Contains("Channels:crm:SigningSecret and Channels:erp:PreviousSigningSecret are the same secret", message, StringComparison.Ordinal);

        var rotating = Strong();
        rotating["Channels:crm:PreviousSigningSecret"] = "crm-previous-" + new string('d', 40);
        Assert.Null(await StartAsync(environment, rotating));
    }

    [Fact]
    public void A_signature_is_valid_under_the_current_or_the_previous_secret_only()
    {
        var body = "{}"u8.ToArray();
        var now = DateTimeOffset.UtcNow;
        var ts = now.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        string[] secrets = ["current-secret", "previous-secret"];
        foreach (var secret in secrets)
            Assert.Equal(SignatureCheck.Valid, WebhookSignature.Verify(secrets, ts, WebhookSignature.Compute(secret, ts, body), body, now, TimeSpan.FromMinutes(5)));
        Assert.Equal(SignatureCheck.Invalid, WebhookSignature.Verify(secrets, ts, WebhookSignature.Compute("third-secret", ts, body), body, now, TimeSpan.FromMinutes(5)));
    }

    [Fact]
    public async Task During_a_rotation_a_channel_accepts_its_current_and_previous_secret_and_refuses_a_third()
    {
        foreach (var secret in new[] { CdpApp.CrmSecret, App.PreviousCrmSecret })
        {
            using var accepted = await app.Client.SendAsync(CdpApp.Signed(ChannelNames.Crm, Payloads.Crm("lead", new { lastName = "王" }), secret: secret));
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        }
        using var refused = await app.Client.SendAsync(CdpApp.Signed(ChannelNames.Crm, Payloads.Crm("lead", new { lastName = "王" }), secret: "a-third-secret-0123456789abcdefghijkl"));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        // The previous secret of one channel signs nothing for another.
        using var elsewhere = await app.Client.SendAsync(CdpApp.Signed(ChannelNames.Erp, "{}", secret: App.PreviousCrmSecret));
        Assert.Equal(HttpStatusCode.Unauthorized, elsewhere.StatusCode);
    }
}
