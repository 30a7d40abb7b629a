using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;

namespace Cdp.Shared.VirtualNumbers;

/// <summary>Alibaba Cloud Dyplsapi's answer codes (FACTS.md); the legacy adapter maps its own onto these.</summary>
public static class ProviderCodes
{
    public const string Ok = "OK";
    public const string NoAvailableNumber = "isv.NO_AVAILABLE_NUMBER";
    public const string FlowLimit = "isv.FLOW_LIMIT";
    public const string SystemError = "isp.SYSTEM_ERROR";
    public const string MobileNumberIllegal = "isv.MOBILE_NUMBER_ILLEGAL";
    public const string SubsNotExist = "isv.SUBS_NOT_EXIST";
    public const string BindConflict = "isv.BIND_CONFLICT";
    /// <summary>Alibaba's answers to a request signed with the wrong AccessKey secret, or with an AccessKey it does not know.</summary>
    public const string SignatureDoesNotMatch = "SignatureDoesNotMatch";
    public const string InvalidAccessKeyIdNotFound = "InvalidAccessKeyId.NotFound";
    public const string InvalidAccessKeyIdInactive = "InvalidAccessKeyId.Inactive";
    public const string MissingAccessKeyId = "MissingAccessKeyId";
    /// <summary>Not the provider's: our own name for a call that did not answer within the attempt timeout.</summary>
    public const string Timeout = "timeout";

    /// <summary>Worth another attempt later: throttled, the provider's own failure, no answer.</summary>
    public static bool IsRetryable(string code) => code is FlowLimit or SystemError or Timeout;

    /// <summary>This install's credentials are wrong: every request would be refused the same way until someone fixes the settings.</summary>
    public static bool IsCredentialError(string code) =>
        code is SignatureDoesNotMatch or InvalidAccessKeyIdNotFound or InvalidAccessKeyIdInactive or MissingAccessKeyId;
}

/// <summary>A bind as the platform asks for it. XB binds B alone (Alibaba's AXN with B as its A).</summary>
public sealed record ProviderBind(string Mode, string PoolKey, string? PhoneA, string PhoneB, string? ExpectCity, DateTimeOffset Expiration, string OutId, bool Recording);

/// <summary>What a provider answered: Code "OK" with SubsId and SecretNo (X), or an error code and message.</summary>
public sealed record ProviderAnswer(string Code, string? Message, string? SubsId = null, string? SecretNo = null)
{
    public bool Ok => Code == ProviderCodes.Ok;
}

/// <summary>A privacy-number provider. Transport failures throw (HttpRequestException, cancellation); refusals are answers.</summary>
public interface IVirtualNumberProvider
{
    /// <summary>The adapter's name, kept on the binding so it is unbound where it was bound.</summary>
    string Name { get; }

    Task<ProviderAnswer> BindAsync(ProviderBind bind, CancellationToken ct);

    Task<ProviderAnswer> UnbindAsync(string poolKey, string subsId, string secretNo, CancellationToken ct);

    /// <summary>QuerySubscriptionDetail: Code OK and the binding's status as Message ("1" bound), or SUBS_NOT_EXIST.</summary>
    Task<ProviderAnswer> QueryAsync(string poolKey, string subsId, string secretNo, CancellationToken ct);
}

/// <summary>
/// The new adapter, shaped after Alibaba Cloud Dyplsapi (2017-05-25): RPC-style form posts to the endpoint with
/// <c>Action</c> = BindAxb / BindAxn / UnbindSubscription / QuerySubscriptionDetail, answers
/// <c>{Code, Message, RequestId, SecretBindDTO:{SubsId, SecretNo, Extension}}</c>, errors with the same shape on 4xx/5xx.
/// Every request carries the common parameters (Format, Version, RegionId) and Alibaba's RPC signature
/// (<see cref="AlibabaRpcSigner"/>, AccessKeyId/AccessKeySecret, a fresh SignatureNonce each time, so a retry is signed anew).
/// </summary>
public sealed class DyplsProvider(HttpClient http, IOptionsMonitor<VirtualNumberOptions> options) : IVirtualNumberProvider
{
    public const string AdapterName = "dypls";
    static readonly TimeSpan ChinaOffset = TimeSpan.FromHours(8);

    public string Name => AdapterName;

    public Task<ProviderAnswer> BindAsync(ProviderBind bind, CancellationToken ct)
    {
        var form = new Dictionary<string, string?>
        {
            ["Action"] = bind.Mode == BindingModes.Axb ? "BindAxb" : "BindAxn",
            ["PoolKey"] = bind.PoolKey,
            ["PhoneNoA"] = bind.Mode == BindingModes.Axb ? bind.PhoneA : bind.PhoneB,
            ["PhoneNoB"] = bind.Mode == BindingModes.Axb ? bind.PhoneB : null,
            ["ExpectCity"] = bind.ExpectCity,
            // Beijing time, as the console and the API read it.
            ["Expiration"] = bind.Expiration.ToOffset(ChinaOffset).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
            ["IsRecordingEnabled"] = bind.Recording ? "true" : "false",
            ["OutId"] = bind.OutId,
        };
        return PostAsync(form, ct);
    }

    public Task<ProviderAnswer> UnbindAsync(string poolKey, string subsId, string secretNo, CancellationToken ct) =>
        PostAsync(new() { ["Action"] = "UnbindSubscription", ["PoolKey"] = poolKey, ["SubsId"] = subsId, ["SecretNo"] = secretNo }, ct);

    public Task<ProviderAnswer> QueryAsync(string poolKey, string subsId, string secretNo, CancellationToken ct) =>
        PostAsync(new() { ["Action"] = "QuerySubscriptionDetail", ["PoolKey"] = poolKey, ["SubsId"] = subsId, ["PhoneNoX"] = secretNo }, ct);

    async Task<ProviderAnswer> PostAsync(Dictionary<string, string?> parameters, CancellationToken ct)
    {
        var o = options.CurrentValue;
        parameters["Version"] = "2017-05-25";
        parameters["Format"] = "JSON";
        parameters["RegionId"] = o.RegionId;
        var url = o.ProviderBaseUrl;
        if (string.IsNullOrEmpty(url)) throw new InvalidOperationException("VirtualNumbers:ProviderBaseUrl is not set.");
        if (string.IsNullOrEmpty(o.AccessKeyId) || string.IsNullOrEmpty(o.AccessKeySecret))
            return new ProviderAnswer(ProviderCodes.MissingAccessKeyId, "VirtualNumbers:AccessKeyId and VirtualNumbers:AccessKeySecret must both be set.");
        var signed = AlibabaRpcSigner.Signed("POST", parameters, o.AccessKeyId, o.AccessKeySecret,
            DateTimeOffset.UtcNow, Guid.NewGuid().ToString());
        using var content = new FormUrlEncodedContent(signed);
        using var response = await http.PostAsync(url, content, ct);
        DyplsAnswer? answer;
        try { answer = await response.Content.ReadFromJsonAsync<DyplsAnswer>(ct); }
        catch (JsonException) { answer = null; }
        if (answer?.Code is not { Length: > 0 } code)
            throw new HttpRequestException($"The provider answered {(int)response.StatusCode} without a Code.");
        var status = answer.SecretBindDetailDTO?.Status;
        return new ProviderAnswer(code, status?.ToString(CultureInfo.InvariantCulture) ?? answer.Message, answer.SecretBindDTO?.SubsId, answer.SecretBindDTO?.SecretNo);
    }

    sealed record DyplsAnswer(string? Code, string? Message, string? RequestId, SecretBind? SecretBindDTO, SecretBindDetail? SecretBindDetailDTO);

    sealed record SecretBind(string? SubsId, string? SecretNo, string? Extension);

    sealed record SecretBindDetail(long? Status, string? ExpireDate);
}

/// <summary>
/// The current adapter (the incumbent integration the grey release moves away from): JSON posts to
/// <c>{LegacyBaseUrl}/bind</c> and <c>/unbind</c>, answers <c>{"code","message","bindId","x"}</c> with the same codes.
/// </summary>
public sealed class LegacyProvider(HttpClient http, IOptionsMonitor<VirtualNumberOptions> options) : IVirtualNumberProvider
{
    public const string AdapterName = "legacy";

    public string Name => AdapterName;

    public Task<ProviderAnswer> BindAsync(ProviderBind bind, CancellationToken ct) =>
        PostAsync("bind", new { mode = bind.Mode, pool = bind.PoolKey, a = bind.PhoneA, b = bind.PhoneB, city = bind.ExpectCity, expireAt = bind.Expiration, outId = bind.OutId }, ct);

    public Task<ProviderAnswer> UnbindAsync(string poolKey, string subsId, string secretNo, CancellationToken ct) =>
        PostAsync("unbind", new { pool = poolKey, bindId = subsId, x = secretNo }, ct);

    public Task<ProviderAnswer> QueryAsync(string poolKey, string subsId, string secretNo, CancellationToken ct) =>
        PostAsync("query", new { pool = poolKey, bindId = subsId, x = secretNo }, ct);

    async Task<ProviderAnswer> PostAsync(string path, object body, CancellationToken ct)
    {
        var url = options.CurrentValue.LegacyBaseUrl;
        if (string.IsNullOrEmpty(url)) throw new InvalidOperationException("VirtualNumbers:LegacyBaseUrl is not set.");
        using var response = await http.PostAsJsonAsync(url.TrimEnd('/') + "/" + path, body, ct);
        LegacyAnswer? answer;
        try { answer = await response.Content.ReadFromJsonAsync<LegacyAnswer>(ct); }
        catch (JsonException) { answer = null; }
        if (answer?.Code is not { Length: > 0 } code)
            throw new HttpRequestException($"The provider answered {(int)response.StatusCode} without a code.");
        return new ProviderAnswer(code, answer.Message, answer.BindId, answer.X);
    }

    sealed record LegacyAnswer(
        [property: JsonPropertyName("code")] string? Code, [property: JsonPropertyName("message")] string? Message,
        [property: JsonPropertyName("bindId")] string? BindId, [property: JsonPropertyName("x")] string? X);
}

/// <summary>Which adapter serves a city now: <see cref="VirtualNumberOptions.GreyCities"/> on the new one, the rest on the current one.</summary>
public sealed class VirtualNumberProviders(IEnumerable<IVirtualNumberProvider> providers, IOptionsMonitor<VirtualNumberOptions> options)
{
    readonly Dictionary<string, IVirtualNumberProvider> byName = providers.GroupBy(p => p.Name).ToDictionary(g => g.Key, g => g.Last());

    public IVirtualNumberProvider ForCity(string? city) =>
        Named(options.CurrentValue.IsGrey(city) ? DyplsProvider.AdapterName : LegacyProvider.AdapterName);

    public IVirtualNumberProvider Named(string name) =>
        byName.GetValueOrDefault(name) ?? throw new InvalidOperationException($"No virtual-number provider '{name}'.");
}
