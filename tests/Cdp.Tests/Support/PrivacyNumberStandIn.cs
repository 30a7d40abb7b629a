using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Cdp.Tests.Support;

/// <summary>
/// A loopback privacy-number provider playing both adapters: Alibaba Cloud Dyplsapi's RPC shape at <see cref="DyplsUrl"/>
/// (form posts with Action = BindAxb / BindAxn / UnbindSubscription / QuerySubscriptionDetail) and the current
/// vendor's JSON API under <see cref="LegacyUrl"/>. On cue it answers an error code, slowly, or runs a pool out of numbers.
/// Like Alibaba it checks every Dyplsapi request's RPC signature against <see cref="AccessKeyId"/> / <see cref="AccessKeySecret"/>
/// (recomputed here on its own, not through the platform's signer) and refuses a bad one as Alibaba does.
/// </summary>
public sealed class PrivacyNumberStandIn : IAsyncDisposable
{
    /// <summary>One request; <paramref name="Refused"/> is the error code of one refused before its action ran (bad signature).</summary>
    public sealed record Call(string Adapter, string Action, string? PoolKey, string? OutId, DateTimeOffset At, string? Refused = null);

    public sealed record Subscription(string SubsId, string SecretNo, string? PhoneA, string PhoneB, string PoolKey, string? OutId)
    {
        public bool Active { get; set; } = true;
    }

    readonly WebApplication app;
    readonly ConcurrentQueue<Call> calls = new();
    readonly ConcurrentDictionary<string, Subscription> subscriptions = new();
    readonly ConcurrentDictionary<string, bool> exhaustedPools = new();
    readonly Lock cueLock = new();
    readonly Queue<Func<Task<(string Code, string Message)?>>> cues = new();
    readonly ConcurrentDictionary<string, bool> nonces = new();
    int nextNumber;

    PrivacyNumberStandIn(WebApplication app) => this.app = app;

    public Uri BaseUrl { get; private set; } = null!;
    public string DyplsUrl => new Uri(BaseUrl, "/dypls").ToString();
    public string LegacyUrl => new Uri(BaseUrl, "/legacy").ToString();

    /// <summary>The one AccessKey this provider knows. Set <see cref="AccessKeySecret"/> to play a key rotated at the provider.</summary>
    public string AccessKeyId { get; } = "LTAI" + Convert.ToHexString(RandomNumberGenerator.GetBytes(10));
    public string AccessKeySecret { get; set; } = Convert.ToBase64String(RandomNumberGenerator.GetBytes(30))[..30];

    public IReadOnlyList<Call> Calls => [.. calls];
    public IReadOnlyList<Call> BindCalls(string? outId = null) =>
        [.. calls.Where(c => c.Action is "BindAxb" or "BindAxn" or "bind" && (outId is null || c.OutId == outId))];
    public IReadOnlyList<Subscription> Subscriptions => [.. subscriptions.Values];

    public static async Task<PrivacyNumberStandIn> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var standIn = new PrivacyNumberStandIn(builder.Build());
        standIn.Map();
        await standIn.app.StartAsync();
        standIn.BaseUrl = new Uri(standIn.app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single());
        return standIn;
    }

    /// <summary>The next <paramref name="count"/> binds answer <paramref name="code"/> (e.g. isp.SYSTEM_ERROR).</summary>
    public void FailNext(int count, string code, string message = "stand-in failure") => Cue(count, () => Task.FromResult<(string, string)?>((code, message)));

    /// <summary>The next <paramref name="count"/> binds answer only after <paramref name="delay"/> (then normally).</summary>
    public void DelayNext(int count, TimeSpan delay) => Cue(count, async () => { await Task.Delay(delay); return null; });

    /// <summary>Binds in <paramref name="poolKey"/> answer isv.NO_AVAILABLE_NUMBER until <see cref="ClearCues"/>.</summary>
    public void Exhaust(string poolKey) => exhaustedPools[poolKey] = true;

    public void ClearCues()
    {
        lock (cueLock) cues.Clear();
        exhaustedPools.Clear();
    }

    void Cue(int count, Func<Task<(string Code, string Message)?>> act)
    {
        lock (cueLock) for (var i = 0; i < count; i++) cues.Enqueue(act);
    }

    async Task<(string Code, string Message)?> NextCueAsync()
    {
        Func<Task<(string, string)?>>? act;
        lock (cueLock) cues.TryDequeue(out act);
        return act is null ? null : await act();
    }

    void Map()
    {
        app.MapPost("/dypls", async (HttpContext http) =>
        {
            var form = await http.Request.ReadFormAsync();
            string? F(string name) => form.TryGetValue(name, out var v) ? v.ToString() : null;
            var action = F("Action") ?? "";
            if (Authenticate(http.Request.Method, form) is { } refused)
            {
                calls.Enqueue(new Call("dypls", action, F("PoolKey"), F("OutId"), DateTimeOffset.UtcNow, refused.Code));
                return Results.Json(new { RequestId = Guid.NewGuid().ToString(), HostId = "dyplsapi.aliyuncs.com", refused.Code, refused.Message }, statusCode: refused.Status);
            }
            var (code, message, subs) = await HandleAsync("dypls", action, F("PoolKey"), F("OutId"),
                action == "BindAxb" ? F("PhoneNoA") : null, action == "BindAxb" ? F("PhoneNoB") : F("PhoneNoA"), F("SubsId"));
            return Results.Json(new
            {
                Code = code, Message = message, RequestId = Guid.NewGuid().ToString(),
                SecretBindDTO = subs is null || !action.StartsWith("Bind", StringComparison.Ordinal) ? null : new { subs.SubsId, subs.SecretNo, Extension = "" },
                SecretBindDetailDTO = action == "QuerySubscriptionDetail" && subs is not null ? new { Status = subs.Active ? 1 : 0, ExpireDate = "" } : null,
            }, statusCode: code == "OK" ? 200 : 400);
        });
        app.MapPost("/legacy/{action}", async (HttpContext http, string action) =>
        {
            var body = await http.Request.ReadFromJsonAsync<System.Text.Json.JsonElement>();
            string? F(string name) => body.TryGetProperty(name, out var v) && v.ValueKind == System.Text.Json.JsonValueKind.String ? v.GetString() : null;
            var (code, message, subs) = await HandleAsync("legacy", action, F("pool"), F("outId"), F("a"), F("b"), F("bindId"));
            return Results.Json(new { code, message, bindId = subs?.SubsId, x = subs?.SecretNo });
        });
    }

    /// <summary>Alibaba's checks of an RPC request, with its error codes and HTTP statuses; null when it passes.</summary>
    (string Code, string Message, int Status)? Authenticate(string method, IFormCollection form)
    {
        string? F(string name) => form.TryGetValue(name, out var v) ? v.ToString() : null;
        if (F("AccessKeyId") is not { Length: > 0 } keyId) return ("MissingAccessKeyId", "AccessKeyId is mandatory for this action.", 400);
        if (keyId != AccessKeyId) return ("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404);
        if (F("SignatureMethod") != "HMAC-SHA1" || F("SignatureVersion") != "1.0" || F("Signature") is not { Length: > 0 } signature
            || F("SignatureNonce") is not { Length: > 0 } nonce || F("Timestamp") is not { Length: > 0 } timestamp)
            return ("IncompleteSignature", "The request signature does not conform to Aliyun standards.", 400);
        if (!DateTimeOffset.TryParseExact(timestamp, "yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
            || (DateTimeOffset.UtcNow - at).Duration() > TimeSpan.FromMinutes(15))
            return ("InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.", 400);

        // Recomputed from what arrived: every parameter but Signature, sorted, RFC 3986-encoded (Uri.EscapeDataString).
        var canonical = string.Join('&', form.Where(p => p.Key != "Signature").OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => Uri.EscapeDataString(p.Key) + "=" + Uri.EscapeDataString(p.Value.ToString())));
        var stringToSign = $"{method}&{Uri.EscapeDataString("/")}&{Uri.EscapeDataString(canonical)}";
        var expected = Convert.ToBase64String(HMACSHA1.HashData(Encoding.UTF8.GetBytes(AccessKeySecret + "&"), Encoding.UTF8.GetBytes(stringToSign)));
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(signature)))
            return ("SignatureDoesNotMatch", $"Specified signature is not matched with our calculation. server string to sign is:{stringToSign}", 400);
        if (!nonces.TryAdd(nonce, true)) return ("SignatureNonceUsed", "Specified signature nonce was used already.", 400);
        return null;
    }

    async Task<(string Code, string Message, Subscription? Subs)> HandleAsync(
        string adapter, string action, string? pool, string? outId, string? a, string? b, string? subsId)
    {
        calls.Enqueue(new Call(adapter, action, pool, outId, DateTimeOffset.UtcNow));
        if (action is "BindAxb" or "BindAxn" or "bind")
        {
            if (await NextCueAsync() is { } failure) return (failure.Code, failure.Message, null);
            if (pool is not null && exhaustedPools.ContainsKey(pool)) return ("isv.NO_AVAILABLE_NUMBER", "no number in pool", null);
            if (b is null || b.Length != 11 || (a is not null && a.Length != 11)) return ("isv.MOBILE_NUMBER_ILLEGAL", "illegal number", null);
            var n = Interlocked.Increment(ref nextNumber);
            var subs = new Subscription($"{1000000000000 + n}", $"170{n:D8}", a, b, pool ?? "", outId);
            subscriptions[subs.SubsId] = subs;
            return ("OK", "OK", subs);
        }
        if (subsId is null || !subscriptions.TryGetValue(subsId, out var known)) return ("isv.SUBS_NOT_EXIST", "no such subscription", null);
        if (action is "UnbindSubscription" or "unbind") known.Active = false;
        return ("OK", "OK", known);
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
