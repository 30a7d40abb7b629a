namespace Cdp.Shared.VirtualNumbers;

/// <summary>Bound from "VirtualNumbers" (API.md fixes ProviderBaseUrl, GreyCities and MaxRetries). Read through IOptionsMonitor: changes apply without a restart.</summary>
public sealed class VirtualNumberOptions
{
    public const string Section = "VirtualNumbers";

    /// <summary>The new adapter's endpoint (Alibaba Cloud Dyplsapi 2017-05-25 RPC shape).</summary>
    public string ProviderBaseUrl { get; set; } = "";

    /// <summary>The AccessKey the new adapter signs its requests with (Alibaba's RPC signature, <see cref="AlibabaRpcSigner"/>).</summary>
    public string AccessKeyId { get; set; } = "";

    /// <summary>The AccessKey's secret: a secret (StrongSecrets), never logged.</summary>
    public string AccessKeySecret { get; set; } = "";

    /// <summary>Sent as RegionId with every request of the new adapter.</summary>
    public string RegionId { get; set; } = "cn-hangzhou";

    /// <summary>The current adapter's endpoint: every city not in <see cref="GreyCities"/>.</summary>
    public string LegacyBaseUrl { get; set; } = "";

    /// <summary>Comma-separated cities on the new adapter (grey release, seed 002); "*" puts every city on it.</summary>
    public string GreyCities { get; set; } = "";

    /// <summary>Retries after the first attempt; after the last the binding goes back to NOT_BIND with one alert.</summary>
    public int MaxRetries { get; set; } = 3;

    public TimeSpan FirstRetryInterval { get; set; } = TimeSpan.FromSeconds(2);
    public double BackoffCoefficient { get; set; } = 2.0;
    public TimeSpan MaxRetryInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>One provider call; a slower answer counts as a failed attempt (retried).</summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long <c>POST /api/virtual-numbers/bindings</c> waits for BIND before answering 202 OPERATION.</summary>
    public TimeSpan WaitTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>A binding's life; it is unbound at expiry by a durable timer. Alibaba wants at least 1 minute.</summary>
    public TimeSpan BindingLifetime { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Used when the pool table has no row at all.</summary>
    public string DefaultPoolKey { get; set; } = "";

    public bool RecordCalls { get; set; } = true;

    public IEnumerable<string> Errors()
    {
        if (MaxRetries is < 0 or > 20) yield return "MaxRetries must be 0..20.";
        if (FirstRetryInterval <= TimeSpan.Zero) yield return "FirstRetryInterval must be positive.";
        if (BackoffCoefficient < 1) yield return "BackoffCoefficient must be at least 1.";
        if (MaxRetryInterval < FirstRetryInterval) yield return "MaxRetryInterval must not be less than FirstRetryInterval.";
        if (AttemptTimeout <= TimeSpan.Zero) yield return "AttemptTimeout must be positive.";
        if (BindingLifetime <= TimeSpan.Zero) yield return "BindingLifetime must be positive (Alibaba refuses less than 1 minute).";
    }

    /// <summary>True when <paramref name="city"/> is on the new adapter.</summary>
    public bool IsGrey(string? city)
    {
        var cities = GreyCities.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return cities.Contains("*") || (city is not null && cities.Contains(city, StringComparer.OrdinalIgnoreCase));
    }
}

/// <summary>The retry schedule of one binding run, fixed when it starts so every replay sees the same numbers.</summary>
public sealed record BindingSchedule(int MaxAttempts, TimeSpan FirstRetryInterval, double BackoffCoefficient, TimeSpan MaxRetryInterval)
{
    public static BindingSchedule Of(VirtualNumberOptions o) => new(o.MaxRetries + 1, o.FirstRetryInterval, o.BackoffCoefficient, o.MaxRetryInterval);

    /// <summary>The wait before attempt <paramref name="attempt"/> (2-based), capped.</summary>
    public TimeSpan DelayBefore(int attempt)
    {
        var ms = FirstRetryInterval.TotalMilliseconds * Math.Pow(BackoffCoefficient, Math.Max(0, attempt - 2));
        return TimeSpan.FromMilliseconds(Math.Min(ms, MaxRetryInterval.TotalMilliseconds));
    }
}
