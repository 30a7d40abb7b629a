using Cdp.Shared.Access;
using Cdp.Shared.Channels.WeCom;
using Cdp.Shared.Operations;
using Cdp.Shared.Sync;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cdp.Shared.VirtualNumbers;

/// <summary>What one bind attempt came to.</summary>
public sealed record BindingAttempt(string Outcome, string? Code, string? Error)
{
    public const string Bound = "bound";
    /// <summary>Failed in a way worth another attempt (throttled, provider error, timeout).</summary>
    public const string Retry = "retry";
    /// <summary>Finished without a binding (refused, no number in any pool, already given up); no retry.</summary>
    public const string Final = "final";
}

/// <summary>
/// The work of the binding orchestration's activities: one bind attempt against the adapter the city's grey setting
/// picks (with a timeout, trying the other cities' pools when the first has no number), the unbind, the alert.
/// Each reads the binding afresh and changes it by version, so a re-run after a crash sees what is done.
/// </summary>
public sealed partial class VirtualNumberBinder(
    BindingStore store, VirtualNumberProviders providers, IOptionsMonitor<VirtualNumberOptions> options,
    AlertRobot robot, IOptions<WeComOptions> wecom, ILogger<VirtualNumberBinder> logger)
{
    public async Task<BindingAttempt> AttemptAsync(Guid bindingId, int attempt, CancellationToken ct)
    {
        var b = await store.GetAsync(bindingId, ct) ?? throw new InvalidOperationException($"No binding {bindingId}.");
        if (b.State == BindingStates.Bind) return new(BindingAttempt.Bound, null, null);
        if (b.State == BindingStates.NotBind) return new(BindingAttempt.Final, b.FailureCode, b.LastError);

        var o = options.CurrentValue;
        var provider = providers.ForCity(b.City);
        var pools = await store.PoolsAsync(b.City, o.DefaultPoolKey, ct);
        if (pools.Count == 0)
        {
            await store.MarkNotBoundAsync(b, ProviderCodes.NoAvailableNumber, "No number pool is configured (virtual_number_pool, VirtualNumbers:DefaultPoolKey).", false, ct);
            return new(BindingAttempt.Final, ProviderCodes.NoAvailableNumber, "no pool configured");
        }

        var exhausted = new List<string>();
        foreach (var (city, poolKey) in pools)
        {
            ProviderAnswer answer;
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct))
            {
                timeout.CancelAfter(o.AttemptTimeout);
                try
                {
                    answer = await provider.BindAsync(new ProviderBind(b.Mode, poolKey, b.PhoneA, b.PhoneB, city ?? b.City, b.ExpiresAt,
                        b.BindingId.ToString(), o.RecordCalls), timeout.Token);
                }
                catch (Exception e) when (!ct.IsCancellationRequested && e is OperationCanceledException or HttpRequestException)
                {
                    var code = e is OperationCanceledException ? ProviderCodes.Timeout : ProviderCodes.SystemError;
                    var error = e is OperationCanceledException ? $"no answer within {o.AttemptTimeout.TotalSeconds:0.###} s" : e.Message;
                    LogAttemptFailed(logger, bindingId, attempt, provider.Name, code);
                    await store.MarkAttemptFailedAsync(b, provider.Name, code, error, ct);
                    return new(BindingAttempt.Retry, code, error);
                }
            }

            if (answer.Ok && answer.SecretNo is { Length: > 0 } x && answer.SubsId is { Length: > 0 } subs)
            {
                await store.MarkBoundAsync(b, provider.Name, city ?? b.City, poolKey, x, subs, ct);
                LogBound(logger, bindingId, attempt, provider.Name, poolKey);
                return new(BindingAttempt.Bound, null, null);
            }
            if (answer.Code == ProviderCodes.NoAvailableNumber)
            {
                exhausted.Add(city ?? poolKey);
                continue;   // another city's pool
            }
            if (ProviderCodes.IsRetryable(answer.Code) || answer.Ok)
            {
                var error = answer.Ok ? "OK without SecretNo/SubsId" : answer.Message;
                LogAttemptFailed(logger, bindingId, attempt, provider.Name, answer.Code);
                await store.MarkAttemptFailedAsync(b, provider.Name, answer.Code, error, ct);
                return new(BindingAttempt.Retry, answer.Code, error);
            }
            if (ProviderCodes.IsCredentialError(answer.Code))
            {
                // This install's AccessKey is wrong: no retry (each would be refused alike), one alert saying what to fix.
                // The provider's own message is not kept: Alibaba's quotes its string to sign, phone numbers included.
                var error = CredentialErrorText(answer.Code);
                LogCredentialsRefused(logger, bindingId, provider.Name, answer.Code);
                await store.MarkNotBoundAsync(b, answer.Code, error, true, ct);
                return new(BindingAttempt.Final, answer.Code, error);
            }
            // MOBILE_NUMBER_ILLEGAL and every other refusal: retrying would get the same answer.
            await store.MarkNotBoundAsync(b, answer.Code, answer.Message, true, ct);
            return new(BindingAttempt.Final, answer.Code, answer.Message);
        }

        var message = $"No virtual number available in the pools of {string.Join(", ", exhausted)}.";
        await store.MarkNotBoundAsync(b, ProviderCodes.NoAvailableNumber, message, true, ct);
        return new(BindingAttempt.Final, ProviderCodes.NoAvailableNumber, message);
    }

    /// <summary>After the last retry: back to NOT_BIND (no-op when it already is).</summary>
    public async Task<bool> GiveUpAsync(Guid bindingId, string? code, string? error, CancellationToken ct)
    {
        var b = await store.GetAsync(bindingId, ct) ?? throw new InvalidOperationException($"No binding {bindingId}.");
        if (b.State != BindingStates.Operation) return false;
        await store.MarkNotBoundAsync(b, code ?? ProviderCodes.SystemError, error, false, ct);
        return true;
    }

    /// <summary>BIND -> the provider's unbind -> NOT_BIND. A binding the provider no longer knows counts as unbound.</summary>
    public async Task<string> UnbindAsync(Guid bindingId, CancellationToken ct)
    {
        var b = await store.GetAsync(bindingId, ct) ?? throw new InvalidOperationException($"No binding {bindingId}.");
        if (b.State != BindingStates.Bind) return b.State;
        var provider = providers.Named(b.Provider ?? LegacyProvider.AdapterName);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(options.CurrentValue.AttemptTimeout);
        var answer = await provider.UnbindAsync(b.PoolKey ?? "", b.SubsId!, b.VirtualNumber!, timeout.Token);
        if (!answer.Ok && answer.Code != ProviderCodes.SubsNotExist)
            throw new InvalidOperationException($"Unbind of binding {bindingId} refused: {answer.Code} {answer.Message}");
        await store.MarkUnboundAsync(b, ct);
        return BindingStates.NotBind;
    }

    /// <summary>One robot message per binding that gave up, naming the X number (if any) and the masked customer number.</summary>
    public async Task<bool> AlertAsync(Guid bindingId, CancellationToken ct)
    {
        var b = await store.GetAsync(bindingId, ct) ?? throw new InvalidOperationException($"No binding {bindingId}.");
        if (!await store.ClaimAlertAsync(bindingId, ct)) return false;
        var text = AlertText(b);
        var url = wecom.Value.AlertWebhookUrl;
        if (string.IsNullOrEmpty(url))
        {
            LogAlertOnly(logger, text);
            return true;
        }
        try
        {
            await robot.PostTextAsync(url, text, ct);
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            await store.ReleaseAlertAsync(bindingId);
            throw;
        }
    }

    /// <summary>Seed 002's message ("绑定XB重试n次,仍未成功请排查,虚拟号:..."), with the customer's number masked.</summary>
    public static string AlertText(Binding b) =>
        $"虚拟号绑定{b.Mode}重试{Math.Max(0, b.Attempts - 1)}次,仍未成功请排查。虚拟号: {b.VirtualNumber ?? "未分配"}; 客户号码: {PiiMask.Phone(b.PhoneA) ?? "-"}; " +
        $"员工号码: {PiiMask.Phone(b.PhoneB)}; 城市: {b.City ?? "-"}; 绑定: {b.BindingId}; attempts: {b.Attempts}; last error: {b.FailureCode} {PiiMask.Text(b.LastError)}";

    /// <summary>What a binding refused for this install's credentials records (and its alert shows).</summary>
    public static string CredentialErrorText(string code) =>
        $"The provider refused this install's credentials ({code}): check VirtualNumbers:AccessKeyId and VirtualNumbers:AccessKeySecret; not retried.";

    [LoggerMessage(Level = LogLevel.Error, Message = "Binding {BindingId}: {Provider} refused this install's credentials ({Code}); check VirtualNumbers:AccessKeyId and VirtualNumbers:AccessKeySecret. Not retried.")]
    private static partial void LogCredentialsRefused(ILogger logger, Guid bindingId, string provider, string code);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Binding {BindingId} attempt {Attempt} on {Provider} failed: {Code}")]
    private static partial void LogAttemptFailed(ILogger logger, Guid bindingId, int attempt, string provider, string code);

    [LoggerMessage(Level = LogLevel.Information, Message = "Binding {BindingId} bound at attempt {Attempt} on {Provider} (pool {Pool})")]
    private static partial void LogBound(ILogger logger, Guid bindingId, int attempt, string provider, string pool);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Alert} (no WeCom:AlertWebhookUrl, alert logged only)")]
    private static partial void LogAlertOnly(ILogger logger, string alert);
}
