using System.Text;
using Cdp.Shared.Ingestion;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cdp.Shared.Access;

/// <summary>
/// The start-up check on every secret the platform holds (channel signing secrets, WeCom Token/EncodingAesKey/Secret,
/// Auth:SessionKey, Auth:BootstrapAdminKey, Events:SiteSecret when set, VirtualNumbers:AccessKeySecret when the new
/// privacy-number adapter has an endpoint). Outside Development a host refuses to start
/// while one is a sample value from the repository or shorter than 32 bytes; in Development it logs one warning line.
/// Two channels sharing a signing secret are refused everywhere. Messages name the setting, never the value.
/// </summary>
public sealed class StrongSecrets
{
    public const int MinBytes = 32;

    /// <summary>Alibaba Cloud issues 30-character AccessKey secrets, so VirtualNumbers:AccessKeySecret is held to that.</summary>
    public const int AlibabaSecretBytes = 30;

    /// <summary>The secret values in local.settings.sample.json and functions/Cdp.Functions/local.settings.sample.json.</summary>
    public static readonly IReadOnlySet<string> SampleValues = new HashSet<string>(StringComparer.Ordinal)
    {
        "local-crm-secret-change-me", "local-wechat-secret-change-me", "local-erp-secret-change-me",
        "localtoken", "SZvbBRy9jvTk8KAo6s3biZeChGyr2XBMeeHuvrCzL0s", "local-wecom-secret-change-me",
        "sample-session-key-replaced-by-cdp-up-0000000000",
    };

    public static bool IsSample(string value) =>
        SampleValues.Contains(value)
        || value.Contains("change-me", StringComparison.OrdinalIgnoreCase)
        || value.Contains("sample", StringComparison.OrdinalIgnoreCase);

    /// <summary>The channels that sign with HMAC, each with its current and previous secret setting.</summary>
    public static IEnumerable<(string Channel, string Setting)> ChannelSecretSettings() =>
        ChannelNames.All.Where(ChannelNames.UsesHmac).Order(StringComparer.Ordinal).SelectMany(c => new[]
        {
            (c, $"Channels:{c}:{nameof(ChannelOptions.SigningSecret)}"),
            (c, $"Channels:{c}:{nameof(ChannelOptions.PreviousSigningSecret)}"),
        });

    /// <summary>What is wrong with the secrets in <paramref name="config"/>: (weak, refused in Production) and (always refused).</summary>
    public static (List<string> Weak, List<string> Invalid) Check(IConfiguration config)
    {
        var weak = new List<string>();
        var invalid = new List<string>();
        void Judge(string setting, bool required, int minBytes = MinBytes)
        {
            var value = config[setting];
            if (string.IsNullOrEmpty(value)) { if (required) weak.Add($"{setting} is not set"); return; }
            if (IsSample(value)) weak.Add($"{setting} is a sample value from the repository");
            else if (Encoding.UTF8.GetByteCount(value) < minBytes) weak.Add($"{setting} is shorter than {minBytes} bytes");
        }

        foreach (var (_, setting) in ChannelSecretSettings()) Judge(setting, required: !setting.EndsWith(nameof(ChannelOptions.PreviousSigningSecret), StringComparison.Ordinal));
        Judge("WeCom:Token", required: true);
        Judge("WeCom:EncodingAesKey", required: true);
        Judge("WeCom:Secret", required: true);
        Judge($"{AccessOptions.Section}:{nameof(AccessOptions.SessionKey)}", required: true);
        Judge($"{AccessOptions.Section}:{nameof(AccessOptions.BootstrapAdminKey)}", required: false);
        Judge("Events:SiteSecret", required: false);
        Judge(PiiHash.SettingName, required: false);
        Judge("VirtualNumbers:AccessKeySecret", required: !string.IsNullOrEmpty(config["VirtualNumbers:ProviderBaseUrl"]), AlibabaSecretBytes);

        // A secret known to two channels lets one sign as the other.
        var byValue = ChannelSecretSettings()
            .Select(s => (s.Channel, s.Setting, Value: config[s.Setting]))
            .Where(s => !string.IsNullOrEmpty(s.Value))
            .GroupBy(s => s.Value, StringComparer.Ordinal);
        foreach (var same in byValue.Where(g => g.Select(s => s.Channel).Distinct().Count() > 1))
            invalid.Add($"{string.Join(" and ", same.Select(s => s.Setting))} are the same secret; each channel needs its own");
        return (weak, invalid);
    }
}

public static class StrongSecretsExtensions
{
    public static IServiceCollection AddStrongSecrets(this IServiceCollection services)
    {
        services.AddOptions<StrongSecrets>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<StrongSecrets>, ValidateStrongSecrets>());
        return services;
    }
}

sealed class ValidateStrongSecrets(IConfiguration config, IHostEnvironment environment, ILogger<StrongSecrets> logger)
    : IValidateOptions<StrongSecrets>
{
    public ValidateOptionsResult Validate(string? name, StrongSecrets options)
    {
        var (weak, invalid) = StrongSecrets.Check(config);
        if (environment.IsDevelopment())
        {
            if (weak.Count > 0)
                logger.LogWarning("Development only, refused in any other environment: {Problems}", string.Join("; ", weak));
            weak = [];
        }
        var errors = weak.Select(w => $"{w}; set this install's own random secret of at least {StrongSecrets.MinBytes} bytes (./cdp up generates them into local.settings.json).")
            .Concat(invalid).ToList();
        return errors.Count > 0 ? ValidateOptionsResult.Fail(errors) : ValidateOptionsResult.Success;
    }
}
