using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cdp.Shared.Channels.WeCom;
using Cdp.Shared.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Cdp.Tests.Support;

/// <summary>
/// A real HTTP server on 127.0.0.1 that plays the WeCom API: gettoken, externalcontact/get, mark_tag, remark.
/// Counts calls per path, records request bodies, and misbehaves on cue (HTTP errors, delays, errcodes, hangs).
/// One per test: <c>await using var wecom = await WeComStandIn.StartAsync();</c>
/// </summary>
public sealed class WeComStandIn : IAsyncDisposable
{
    public const string GetTokenPath = "/cgi-bin/gettoken";
    public const string GetContactPath = "/cgi-bin/externalcontact/get";
    public const string MarkTagPath = "/cgi-bin/externalcontact/mark_tag";
    public const string RemarkPath = "/cgi-bin/externalcontact/remark";

    public const string DefaultCorpId = "wwstandincorp0001";
    public const string DefaultSecret = "stand-in-secret";
    public const string DefaultToken = "standintoken";

    /// <summary>A valid 43-character EncodingAESKey (32 bytes once decoded).</summary>
    public const string DefaultEncodingAesKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

    private sealed class Cue(string? path, int count, Func<HttpContext, CancellationToken, Task<bool>> act)
    {
        public string? Path { get; } = path;
        public int Remaining { get; set; } = count;
        public Func<HttpContext, CancellationToken, Task<bool>> Act { get; } = act;
    }

    private readonly WebApplication _app;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Cue> _cues = [];
    private readonly ConcurrentDictionary<string, int> _calls = new();
    private readonly ConcurrentDictionary<string, ConcurrentQueue<string>> _bodies = new();
    private readonly ConcurrentDictionary<string, string> _contacts = new();
    private readonly ConcurrentDictionary<string, bool> _validTokens = new();
    private readonly ConcurrentQueue<string> _issuedTokens = new();
    private int _tokenSequence;

    private WeComStandIn(WebApplication app, string corpId, string secret)
    {
        _app = app;
        CorpId = corpId;
        Secret = secret;
    }

    public string CorpId { get; }
    public string Secret { get; }
    public Uri BaseUrl { get; private set; } = null!;

    /// <summary>expires_in of issued tokens, in seconds.</summary>
    public int TokenLifetimeSeconds { get; set; } = 7200;

    public IReadOnlyCollection<string> IssuedTokens => _issuedTokens;

    public static async Task<WeComStandIn> StartAsync(string corpId = DefaultCorpId, string secret = DefaultSecret)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var standIn = new WeComStandIn(app, corpId, secret);
        standIn.Map(app);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        standIn.BaseUrl = new Uri(address);
        return standIn;
    }

    /// <summary>Calls received on <paramref name="path"/> (e.g. <see cref="GetTokenPath"/>), cued failures included.</summary>
    public int Calls(string path) => _calls.GetValueOrDefault(path);

    public IReadOnlyList<string> Bodies(string path) => _bodies.TryGetValue(path, out var q) ? [.. q] : [];

    /// <summary>Registers a contact with a raw <c>externalcontact/get</c> success response (errcode 0 is added if absent).</summary>
    public void AddContactJson(string externalUserId, string responseJson)
    {
        var node = JsonNode.Parse(responseJson)!.AsObject();
        node["errcode"] ??= 0;
        node["errmsg"] ??= "ok";
        _contacts[externalUserId] = node.ToJsonString();
    }

    /// <summary>Registers a contact followed by the given employees, each with one corp tag.</summary>
    /// <summary>The mobile <see cref="AddContact"/> files for a contact: distinct per contact, stable per id.</summary>
    public static string MobileOf(string externalUserId) =>
        "139" + (BitConverter.ToUInt32(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(externalUserId))) % 100_000_000).ToString("D8", System.Globalization.CultureInfo.InvariantCulture);

    public void AddContact(string externalUserId, string name, string? corpName = null, params string[] followUserIds)
    {
        var response = new JsonObject
        {
            ["external_contact"] = new JsonObject
            {
                ["external_userid"] = externalUserId,
                ["name"] = name,
                ["position"] = "采购经理",
                ["avatar"] = "http://wx.qlogo.cn/mmhead/x/0",
                ["corp_name"] = corpName,
                ["corp_full_name"] = corpName is null ? null : corpName + "有限公司",
                ["type"] = 2,
                ["gender"] = 1,
                ["unionid"] = "union-" + externalUserId,
            },
            ["follow_user"] = new JsonArray([.. followUserIds.Select(u => (JsonNode)new JsonObject
            {
                ["userid"] = u,
                ["remark"] = name + "-备注",
                ["description"] = "desc",
                ["createtime"] = 1_700_000_000,
                ["tags"] = new JsonArray(new JsonObject
                {
                    ["group_name"] = "行业", ["tag_name"] = "制造业", ["tag_id"] = "et-manufacturing", ["type"] = 1,
                }),
                ["remark_corp_name"] = corpName,
                ["remark_mobiles"] = new JsonArray(MobileOf(externalUserId)),
                ["state"] = "expo-2024",
            })]),
        };
        AddContactJson(externalUserId, response.ToJsonString());
    }

    /// <summary>The next <paramref name="count"/> calls (to <paramref name="path"/>, or any) answer HTTP <paramref name="status"/>.</summary>
    public void FailNext(int count, HttpStatusCode status = HttpStatusCode.InternalServerError, string? path = null) =>
        AddCue(path, count, (ctx, _) =>
        {
            ctx.Response.StatusCode = (int)status;
            return Task.FromResult(true);
        });

    /// <summary>The next calls wait <paramref name="delay"/> before answering normally.</summary>
    public void DelayNext(TimeSpan delay, int count = 1, string? path = null) =>
        AddCue(path, count, async (_, ct) =>
        {
            await Task.Delay(delay, ct);
            return false;
        });

    /// <summary>The next calls answer HTTP 200 with a WeCom errcode.</summary>
    public void ErrCodeNext(int errCode, int count = 1, string? path = null, string errMsg = "stand-in cued error") =>
        AddCue(path, count, async (ctx, _) =>
        {
            await WriteJson(ctx, new JsonObject { ["errcode"] = errCode, ["errmsg"] = errMsg });
            return true;
        });

    /// <summary>The next calls never answer; the client's timeout (or disposal) ends them.</summary>
    public void HangNext(int count = 1, string? path = null) =>
        AddCue(path, count, async (_, ct) =>
        {
            await Task.Delay(Timeout.Infinite, ct);
            return true;
        });

    /// <summary>Every token issued so far stops working: the next API call gets errcode 42001.</summary>
    public void ExpireTokens() => _validTokens.Clear();

    /// <summary>
    /// A host wired the way the platform wires WeCom (<see cref="WeComExtensions.AddWeCom"/>), pointed at this
    /// stand-in, with <paramref name="http"/> replacing the resilience settings (see <see cref="FastHttp"/>).
    /// </summary>
    public IHost BuildHost(OutboundHttpOptions? http = null, Action<IServiceCollection>? services = null)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["WeCom:CorpId"] = CorpId,
            ["WeCom:Token"] = DefaultToken,
            ["WeCom:EncodingAesKey"] = DefaultEncodingAesKey,
            ["WeCom:Secret"] = Secret,
            ["WeCom:ApiBaseUrl"] = BaseUrl.ToString(),
        });
        builder.AddWeCom();
        builder.Services.PostConfigure<WeComOptions>(o => o.Http = http ?? FastHttp());
        services?.Invoke(builder.Services);
        return builder.Build();
    }

    /// <summary>Short timeouts and backoff so resilience tests take milliseconds; the circuit stays out of the way.</summary>
    public static OutboundHttpOptions FastHttp() => new()
    {
        AttemptTimeout = TimeSpan.FromMilliseconds(500),
        MaxRetries = 2,
        RetryBaseDelay = TimeSpan.FromMilliseconds(10),
        MinimumThroughput = 1000,
        BreakDuration = TimeSpan.FromSeconds(1),
    };

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        using var stopTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(stopTimeout.Token);
        await _app.DisposeAsync();
        _stopping.Dispose();
    }

    private void AddCue(string? path, int count, Func<HttpContext, CancellationToken, Task<bool>> act)
    {
        lock (_cues)
        {
            _cues.Add(new Cue(path, count, act));
        }
    }

    private Cue? TakeCue(string path)
    {
        lock (_cues)
        {
            var cue = _cues.FirstOrDefault(c => c.Path is null || c.Path == path);
            if (cue is not null && --cue.Remaining == 0)
            {
                _cues.Remove(cue);
            }

            return cue;
        }
    }

    private void Map(WebApplication app)
    {
        app.Use(async (ctx, next) =>
        {
            var path = ctx.Request.Path.Value ?? "";
            _calls.AddOrUpdate(path, 1, (_, n) => n + 1);
            using var reader = new StreamReader(ctx.Request.Body);
            var body = await reader.ReadToEndAsync(ctx.RequestAborted);
            if (body.Length > 0)
            {
                _bodies.GetOrAdd(path, _ => new ConcurrentQueue<string>()).Enqueue(body);
            }

            ctx.Items["body"] = body;
            if (TakeCue(path) is { } cue)
            {
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted, _stopping.Token);
                try
                {
                    if (await cue.Act(ctx, linked.Token))
                    {
                        return;
                    }
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }

            await next(ctx);
        });

        app.MapGet(GetTokenPath, (HttpContext ctx, string? corpid, string? corpsecret) =>
        {
            if (corpid != CorpId)
            {
                return WriteJson(ctx, new JsonObject { ["errcode"] = 40013, ["errmsg"] = "invalid corpid" });
            }

            if (corpsecret != Secret)
            {
                return WriteJson(ctx, new JsonObject { ["errcode"] = 40001, ["errmsg"] = "invalid credential" });
            }

            var token = $"standin-token-{Interlocked.Increment(ref _tokenSequence)}";
            _validTokens[token] = true;
            _issuedTokens.Enqueue(token);
            return WriteJson(ctx, new JsonObject
            {
                ["errcode"] = 0, ["errmsg"] = "ok", ["access_token"] = token, ["expires_in"] = TokenLifetimeSeconds,
            });
        });

        app.MapGet(GetContactPath, (HttpContext ctx, string? access_token, string? external_userid) =>
        {
            if (TokenError(access_token) is { } error)
            {
                return WriteJson(ctx, error);
            }

            return external_userid is not null && _contacts.TryGetValue(external_userid, out var json)
                ? WriteRaw(ctx, json)
                : WriteJson(ctx, new JsonObject { ["errcode"] = 84061, ["errmsg"] = "not external contact" });
        });

        app.MapPost(MarkTagPath, (HttpContext ctx, string? access_token) => Acknowledge(ctx, access_token));
        app.MapPost(RemarkPath, (HttpContext ctx, string? access_token) => Acknowledge(ctx, access_token));
    }

    private Task Acknowledge(HttpContext ctx, string? accessToken)
    {
        if (TokenError(accessToken) is { } error)
        {
            return WriteJson(ctx, error);
        }

        try
        {
            using var _ = JsonDocument.Parse((string)ctx.Items["body"]!);
        }
        catch (JsonException)
        {
            return WriteJson(ctx, new JsonObject { ["errcode"] = 47001, ["errmsg"] = "data format error" });
        }

        return WriteJson(ctx, new JsonObject { ["errcode"] = 0, ["errmsg"] = "ok" });
    }

    private JsonObject? TokenError(string? accessToken)
    {
        if (string.IsNullOrEmpty(accessToken))
        {
            return new JsonObject { ["errcode"] = 41001, ["errmsg"] = "access_token missing" };
        }

        if (_validTokens.ContainsKey(accessToken))
        {
            return null;
        }

        return _issuedTokens.Contains(accessToken)
            ? new JsonObject { ["errcode"] = 42001, ["errmsg"] = "access_token expired" }
            : new JsonObject { ["errcode"] = 40014, ["errmsg"] = "invalid access_token" };
    }

    private static Task WriteJson(HttpContext ctx, JsonObject body) => WriteRaw(ctx, body.ToJsonString());

    private static Task WriteRaw(HttpContext ctx, string json)
    {
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "application/json; charset=utf-8";
        return ctx.Response.WriteAsync(json);
    }
}
