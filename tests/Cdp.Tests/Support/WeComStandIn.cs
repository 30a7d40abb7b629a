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
/// A real HTTP server on 127.0.0.1 that plays the WeCom API: gettoken, auth/getuserinfo (sign-in codes),
/// externalcontact/get, mark_tag, remark, get_corp_tag_list, add_corp_tag (mark_tag and remark change the stored contact),
/// message/send (recorded, see AppMessages),
/// the JS-SDK tickets (get_jsapi_ticket, ticket/get?type=agent_config; a new ticket per fetch) and the group robot webhook.
/// Counts calls per path, records request bodies, and misbehaves on cue (HTTP errors, delays, errcodes, hangs).
/// One per test: <c>await using var wecom = await WeComStandIn.StartAsync();</c>
/// </summary>
public sealed class WeComStandIn : IAsyncDisposable
{
    public const string GetTokenPath = "/cgi-bin/gettoken";
    public const string GetContactPath = "/cgi-bin/externalcontact/get";
    public const string MarkTagPath = "/cgi-bin/externalcontact/mark_tag";
    public const string RemarkPath = "/cgi-bin/externalcontact/remark";
    public const string CorpTagListPath = "/cgi-bin/externalcontact/get_corp_tag_list";
    public const string AddCorpTagPath = "/cgi-bin/externalcontact/add_corp_tag";
    public const string RobotPath = "/cgi-bin/webhook/send";
    public const string UserInfoPath = "/cgi-bin/auth/getuserinfo";
    public const string JsApiTicketPath = "/cgi-bin/get_jsapi_ticket";
    public const string AgentTicketPath = "/cgi-bin/ticket/get";
    public const string MessageSendPath = "/cgi-bin/message/send";

    public const string DefaultCorpId = "wwstandincorp0001";
    public const string DefaultSecret = "stand-in-secret-0123456789abcdefghij";
    public const string DefaultToken = "standintoken0123456789abcdefghij";

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
    private readonly ConcurrentDictionary<string, ConcurrentQueue<string>> _traceParents = new();
    private readonly ConcurrentDictionary<string, string> _contacts = new();
    private readonly ConcurrentDictionary<string, bool> _validTokens = new();
    private readonly ConcurrentDictionary<string, string> _signInCodes = new();
    private readonly ConcurrentQueue<string> _issuedTokens = new();
    private int _tokenSequence;
    private readonly object _tagLock = new();

    /// <summary>Corp tags: id -> (group, name). Seeded with the tag <see cref="AddContact"/> gives followers.</summary>
    private readonly Dictionary<string, (string Group, string Name)> _corpTags = new() { ["et-manufacturing"] = ("行业", "制造业") };
    private int _tagSequence;

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

    /// <summary>expires_in of issued JS-SDK tickets, in seconds.</summary>
    public int TicketLifetimeSeconds { get; set; } = 7200;

    private int _ticketSequence;

    /// <summary>The last ticket get_jsapi_ticket handed out (for wx.config).</summary>
    public string? JsApiTicket { get; private set; }

    /// <summary>The last ticket ticket/get?type=agent_config handed out (for wx.agentConfig).</summary>
    public string? AgentConfigTicket { get; private set; }

    /// <summary>
    /// A single-use sign-in code for <paramref name="userId"/>, as WeCom hands one to the browser after OAuth2 or the
    /// login QR; auth/getuserinfo exchanges it once, then answers 40029 like WeCom. Null: someone outside the company.
    /// </summary>
    public string IssueSignInCode(string? userId)
    {
        var code = "code-" + Guid.NewGuid().ToString("N");
        _signInCodes[code] = userId ?? "";
        return code;
    }

    /// <summary>Who "scans" the login QR (or passes WeCom's in-app OAuth2) when a browser comes to <see cref="QrLoginPath"/>.</summary>
    public string? SignInAs { get; set; }

    /// <summary>WeCom's web-login QR page and in-app OAuth2 page, as a browser reaches them (a test routes WeCom's hosts here).</summary>
    public const string QrLoginPath = "/wwlogin/sso/login";
    public const string OAuthAuthorizePath = "/connect/oauth2/authorize";

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

    /// <summary>The W3C <c>traceparent</c> headers the calls on <paramref name="path"/> carried (telemetry tests follow the trace here).</summary>
    public IReadOnlyList<string> TraceParents(string path) => _traceParents.TryGetValue(path, out var q) ? [.. q] : [];

    /// <summary>Registers a contact with a raw <c>externalcontact/get</c> success response (errcode 0 is added if absent).</summary>
    public void AddContactJson(string externalUserId, string responseJson)
    {
        var node = JsonNode.Parse(responseJson)!.AsObject();
        node["errcode"] ??= 0;
        node["errmsg"] ??= "ok";
        _contacts[externalUserId] = node.ToJsonString();
    }

    /// <summary>The mobile <see cref="AddContact"/> files for a contact: distinct per contact, stable per id.</summary>
    public static string MobileOf(string externalUserId) =>
        "139" + (BitConverter.ToUInt32(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(externalUserId))) % 100_000_000).ToString("D8", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Registers a contact followed by the given employees, each with one corp tag.</summary>
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

    /// <summary>The URL to configure as WeCom:AlertWebhookUrl; bodies posted to it are in <see cref="Alerts"/>.</summary>
    public string RobotUrl => new Uri(BaseUrl, RobotPath + "?key=stand-in-robot").ToString();

    /// <summary>The text (or markdown) contents of the group robot messages received.</summary>
    public IReadOnlyList<string> Alerts => [.. Bodies(RobotPath).Select(b => JsonNode.Parse(b) is { } m
        ? m["text"]?["content"]?.GetValue<string>() ?? m["markdown"]?["content"]?.GetValue<string>() ?? "" : "")];

    /// <summary>The app messages (message/send) received, as posted.</summary>
    public IReadOnlyList<JsonNode> AppMessages => [.. Bodies(MessageSendPath).Select(b => JsonNode.Parse(b)!)];

    /// <summary>
    /// The names of the corp tags employee <paramref name="userId"/> has on the contact (mark_tag applies to it), of
    /// every group or of <paramref name="group"/> only.
    /// </summary>
    public IReadOnlyList<string> TagNamesOf(string externalUserId, string userId, string? group = null)
    {
        lock (_tagLock)
        {
            var follower = Follower(externalUserId, userId);
            return follower?["tags"] is JsonArray tags
                ? [.. tags.Where(t => group is null || t?["group_name"]?.GetValue<string>() == group)
                    .Select(t => t?["tag_name"]?.GetValue<string>() ?? "").Order(StringComparer.Ordinal)]
                : [];
        }
    }

    /// <summary>The description employee <paramref name="userId"/> has on the contact (remark applies to it).</summary>
    public string? DescriptionOf(string externalUserId, string userId)
    {
        lock (_tagLock)
        {
            return Follower(externalUserId, userId)?["description"]?.GetValue<string>();
        }
    }

    /// <summary>The corp tag names known, as group/name.</summary>
    public IReadOnlyList<string> CorpTags()
    {
        lock (_tagLock)
        {
            return [.. _corpTags.Values.Select(t => $"{t.Group}/{t.Name}").Order(StringComparer.Ordinal)];
        }
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
    /// <summary>Drops cues a previous test left unconsumed (a class fixture's stand-in outlives each test).</summary>
    public void ClearCues()
    {
        lock (_cues) _cues.Clear();
    }

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

    /// <summary>
    /// Short backoff so resilience tests take little time; the circuit stays out of the way. The attempt timeout is
    /// short enough for timeout tests, yet long enough that a loaded 2-core CI machine never trips it by accident.
    /// </summary>
    public static OutboundHttpOptions FastHttp() => new()
    {
        AttemptTimeout = TimeSpan.FromSeconds(5),
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
            if (ctx.Request.Headers["traceparent"].FirstOrDefault() is { Length: > 0 } traceParent)
            {
                _traceParents.GetOrAdd(path, _ => new ConcurrentQueue<string>()).Enqueue(traceParent);
            }

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

        // The member scans (or WeCom's browser passes OAuth2 silently): back to redirect_uri with a fresh code and the state.
        IResult SignInPage(string? appid, string? redirect_uri, string? state) =>
            appid != CorpId || redirect_uri is null || SignInAs is null
                ? Results.Text("stand-in: wrong appid, no redirect_uri, or nobody set to sign in", statusCode: 400)
                : Results.Redirect($"{redirect_uri}{(redirect_uri.Contains('?') ? '&' : '?')}code={IssueSignInCode(SignInAs)}&state={Uri.EscapeDataString(state ?? "")}");
        app.MapGet(QrLoginPath, (string? appid, string? redirect_uri, string? state) => SignInPage(appid, redirect_uri, state));
        app.MapGet(OAuthAuthorizePath, (string? appid, string? redirect_uri, string? state) => SignInPage(appid, redirect_uri, state));

        app.MapGet(UserInfoPath, (HttpContext ctx, string? access_token, string? code) =>
            TokenError(access_token) is { } error ? WriteJson(ctx, error)
            : code is null || !_signInCodes.TryRemove(code, out var userId) ? WriteJson(ctx, new JsonObject { ["errcode"] = 40029, ["errmsg"] = "invalid code" })
            : userId.Length == 0 ? WriteJson(ctx, new JsonObject { ["errcode"] = 0, ["errmsg"] = "ok", ["openid"] = "o-" + code, ["external_userid"] = "wm-" + code })
            : WriteJson(ctx, new JsonObject { ["errcode"] = 0, ["errmsg"] = "ok", ["userid"] = userId }));

        app.MapGet(JsApiTicketPath, (HttpContext ctx, string? access_token) =>
        {
            if (TokenError(access_token) is { } error) return WriteJson(ctx, error);
            JsApiTicket = $"standin-jsapi-ticket-{Interlocked.Increment(ref _ticketSequence)}";
            return WriteJson(ctx, new JsonObject { ["errcode"] = 0, ["errmsg"] = "ok", ["ticket"] = JsApiTicket, ["expires_in"] = TicketLifetimeSeconds });
        });
        app.MapGet(AgentTicketPath, (HttpContext ctx, string? access_token, string? type) =>
        {
            if (TokenError(access_token) is { } error) return WriteJson(ctx, error);
            if (type != "agent_config") return WriteJson(ctx, new JsonObject { ["errcode"] = 40097, ["errmsg"] = "invalid args: type" });
            AgentConfigTicket = $"standin-agent-ticket-{Interlocked.Increment(ref _ticketSequence)}";
            return WriteJson(ctx, new JsonObject { ["errcode"] = 0, ["errmsg"] = "ok", ["ticket"] = AgentConfigTicket, ["expires_in"] = TicketLifetimeSeconds });
        });

        app.MapPost(MarkTagPath, (HttpContext ctx, string? access_token) => Acknowledge(ctx, access_token, ApplyMarkTag));
        app.MapPost(RemarkPath, (HttpContext ctx, string? access_token) => Acknowledge(ctx, access_token, ApplyRemark));
        app.MapPost(CorpTagListPath, (HttpContext ctx, string? access_token) =>
            TokenError(access_token) is { } error ? WriteJson(ctx, error) : WriteJson(ctx, new JsonObject
            {
                ["errcode"] = 0, ["errmsg"] = "ok", ["tag_group"] = TagGroups(null),
            }));
        app.MapPost(AddCorpTagPath, (HttpContext ctx, string? access_token) =>
            TokenError(access_token) is { } error ? WriteJson(ctx, error) : WriteJson(ctx, AddCorpTags((string)ctx.Items["body"]!)));
        app.MapPost(MessageSendPath, (HttpContext ctx, string? access_token) => Acknowledge(ctx, access_token));
        app.MapPost(RobotPath, (HttpContext ctx, string? key) => WriteJson(ctx, string.IsNullOrEmpty(key)
            ? new JsonObject { ["errcode"] = 93000, ["errmsg"] = "invalid webhook url" }
            : new JsonObject { ["errcode"] = 0, ["errmsg"] = "ok" }));
    }

    private Task Acknowledge(HttpContext ctx, string? accessToken, Action<JsonNode>? apply = null)
    {
        if (TokenError(accessToken) is { } error)
        {
            return WriteJson(ctx, error);
        }

        try
        {
            using var _ = JsonDocument.Parse((string)ctx.Items["body"]!);
            if (apply is not null && JsonNode.Parse((string)ctx.Items["body"]!) is { } request)
            {
                lock (_tagLock)
                {
                    apply(request);
                }
            }
        }
        catch (JsonException)
        {
            return WriteJson(ctx, new JsonObject { ["errcode"] = 47001, ["errmsg"] = "data format error" });
        }

        return WriteJson(ctx, new JsonObject { ["errcode"] = 0, ["errmsg"] = "ok" });
    }

    private JsonNode? Follower(string? externalUserId, string? userId)
    {
        if (externalUserId is null || !_contacts.TryGetValue(externalUserId, out var json)) return null;
        var contact = JsonNode.Parse(json)!;
        return contact["follow_user"]?.AsArray().FirstOrDefault(f => f?["userid"]?.GetValue<string>() == userId);
    }

    /// <summary>Rewrites the stored contact with <paramref name="change"/> applied to one follower (callers hold _tagLock).</summary>
    private void UpdateFollower(JsonNode request, Action<JsonNode> change)
    {
        var externalUserId = request["external_userid"]?.GetValue<string>();
        var userId = request["userid"]?.GetValue<string>();
        if (externalUserId is null || !_contacts.TryGetValue(externalUserId, out var json)) return;
        var contact = JsonNode.Parse(json)!;
        var follower = contact["follow_user"]?.AsArray().FirstOrDefault(f => f?["userid"]?.GetValue<string>() == userId);
        if (follower is null) return;
        change(follower);
        _contacts[externalUserId] = contact.ToJsonString();
    }

    private void ApplyMarkTag(JsonNode request) => UpdateFollower(request, follower =>
    {
        var add = request["add_tag"]?.AsArray().Select(t => t!.GetValue<string>()).ToList() ?? [];
        var remove = request["remove_tag"]?.AsArray().Select(t => t!.GetValue<string>()).ToHashSet() ?? [];
        var tags = follower["tags"] as JsonArray ?? [];
        var kept = tags.Where(t => !remove.Contains(t?["tag_id"]?.GetValue<string>() ?? "")).Select(t => t!.DeepClone()).ToList();
        foreach (var id in add.Where(id => _corpTags.ContainsKey(id) && kept.All(t => t["tag_id"]?.GetValue<string>() != id)))
        {
            kept.Add(new JsonObject { ["group_name"] = _corpTags[id].Group, ["tag_name"] = _corpTags[id].Name, ["tag_id"] = id, ["type"] = 1 });
        }

        follower["tags"] = new JsonArray([.. kept]);
    });

    private void ApplyRemark(JsonNode request) => UpdateFollower(request, follower =>
    {
        if (request["description"] is { } description) follower["description"] = description.DeepClone();
        if (request["remark"] is { } remark) follower["remark"] = remark.DeepClone();
    });

    private JsonArray TagGroups(string? onlyGroup)
    {
        lock (_tagLock)
        {
            return new JsonArray([.. _corpTags.GroupBy(t => t.Value.Group).Where(g => onlyGroup is null || g.Key == onlyGroup).Select(g => (JsonNode)new JsonObject
            {
                ["group_id"] = "grp-" + g.Key,
                ["group_name"] = g.Key,
                ["create_time"] = 1_700_000_000,
                ["order"] = 0,
                ["deleted"] = false,
                ["tag"] = new JsonArray([.. g.Select(t => (JsonNode)new JsonObject
                {
                    ["id"] = t.Key, ["name"] = t.Value.Name, ["create_time"] = 1_700_000_000, ["order"] = 0, ["deleted"] = false,
                })]),
            })]);
        }
    }

    private JsonObject AddCorpTags(string body)
    {
        var request = JsonNode.Parse(body)!;
        var group = request["group_name"]?.GetValue<string>();
        if (string.IsNullOrEmpty(group)) return new JsonObject { ["errcode"] = 40071, ["errmsg"] = "group_name missing" };
        lock (_tagLock)
        {
            foreach (var name in request["tag"]?.AsArray().Select(t => t?["name"]?.GetValue<string>()).OfType<string>() ?? [])
            {
                if (!_corpTags.Values.Contains((group, name)))
                {
                    _corpTags[$"et-cdp-{Interlocked.Increment(ref _tagSequence)}"] = (group, name);
                }
            }
        }

        return new JsonObject { ["errcode"] = 0, ["errmsg"] = "ok", ["tag_group"] = TagGroups(group)[0]!.DeepClone() };
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
