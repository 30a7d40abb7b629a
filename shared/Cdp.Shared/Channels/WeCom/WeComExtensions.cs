using Cdp.Shared.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Cdp.Shared.Channels.WeCom;

public static class WeComExtensions
{
    /// <summary>WeCom options (validated on start), the callback crypto and the API client with outbound resilience.</summary>
    public static IHostApplicationBuilder AddWeCom(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;

        services.AddOptions<WeComOptions>()
            .BindConfiguration(WeComOptions.Section)
            .ValidateDataAnnotations()
            .Validate(o => WeComCrypto.IsValidKey(o.EncodingAesKey), "WeCom:EncodingAesKey must be 43 base64 characters.")
            .ValidateOnStart();

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<WeComAccessTokenCache>();
        services.TryAddSingleton<Storage.RedisConnection>();
        services.TryAddSingleton<WeComJsSdk>();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<CorpTagCatalog>();
        services.TryAddSingleton(sp =>
        {
            var o = sp.GetRequiredService<IOptions<WeComOptions>>().Value;
            return new WeComCrypto(o.Token, o.EncodingAesKey, o.CorpId);
        });

        services.AddHttpClient<WeComApiClient>((sp, http) =>
            {
                var baseUrl = sp.GetRequiredService<IOptions<WeComOptions>>().Value.ApiBaseUrl;
                http.BaseAddress = new Uri(baseUrl.TrimEnd('/') + "/");
            })
            .AddOutboundResilience(sp => sp.GetRequiredService<IOptions<WeComOptions>>().Value.Http);

        return builder;
    }
}
