using Cdp.Tests.Support;
using Dapper;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Cdp.Tests.VirtualNumbers;

/// <summary>The local host with a <see cref="PrivacyNumberStandIn"/> as both provider adapters; 上海 on the new one (grey).</summary>
public class VirtualNumberApp : CdpApp
{
    public PrivacyNumberStandIn Provider { get; private set; } = null!;

    public static Dictionary<string, string?> VirtualNumberSettings(PrivacyNumberStandIn provider, WeComStandIn wecom, TimeSpan lifetime) => new()
    {
        ["VirtualNumbers:ProviderBaseUrl"] = provider.DyplsUrl,
        ["VirtualNumbers:AccessKeyId"] = provider.AccessKeyId,
        ["VirtualNumbers:AccessKeySecret"] = provider.AccessKeySecret,
        ["VirtualNumbers:LegacyBaseUrl"] = provider.LegacyUrl,
        ["VirtualNumbers:GreyCities"] = "上海",
        ["VirtualNumbers:MaxRetries"] = "3",
        ["VirtualNumbers:FirstRetryInterval"] = "00:00:00.200",
        ["VirtualNumbers:BackoffCoefficient"] = "1.5",
        ["VirtualNumbers:AttemptTimeout"] = "00:00:03",
        ["VirtualNumbers:WaitTimeout"] = "00:00:10",
        ["VirtualNumbers:BindingLifetime"] = lifetime.ToString(),
        ["VirtualNumbers:DefaultPoolKey"] = "FC-default",
        ["WeCom:AlertWebhookUrl"] = wecom.RobotUrl,
    };

    protected virtual TimeSpan Lifetime => TimeSpan.FromMinutes(30);

    protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings => VirtualNumberSettings(Provider, WeCom, Lifetime);

    public override async Task InitializeAsync()
    {
        Provider = await PrivacyNumberStandIn.StartAsync();
        await base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Provider.DisposeAsync();
    }

    /// <summary>Changes a setting of the running host (IOptionsMonitor sees it without a restart).</summary>
    public void SetSetting(string key, string value)
    {
        var config = (IConfigurationRoot)Services.GetRequiredService<IConfiguration>();
        config[key] = value;
        config.Reload();
    }

    public async Task SetPoolAsync(string city, string poolKey, int priority)
    {
        await using var conn = await Database.DataSource.OpenConnectionAsync();
        await conn.ExecuteAsync("""
            insert into virtual_number_pool (city, pool_key, priority) values (@city, @poolKey, @priority)
            on conflict (city) do update set pool_key = excluded.pool_key, priority = excluded.priority
            """, new { city, poolKey, priority });
    }
}

/// <summary>Bindings that live 3 seconds, to see the durable timer unbind them.</summary>
public sealed class ShortLivedVirtualNumberApp : VirtualNumberApp
{
    protected override TimeSpan Lifetime => TimeSpan.FromSeconds(3);
}
