using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using Cdp.Shared;
using Cdp.Shared.Channels.WeCom;
using Cdp.Shared.Ingestion;
using Cdp.Shared.Storage;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Cdp.Tests.Support;

/// <summary>
/// What a platform under test runs against: a database of its own, a loopback WeCom stand-in, and the settings
/// (as configuration keys) that point a host at them. Hosts come on top: in-process (<see cref="CdpApp"/>) or
/// as separate processes (<see cref="HostProcess"/>).
/// </summary>
public class CdpBackend : IAsyncLifetime
{
    public PostgresDatabase Database { get; } = new();
    public WeComStandIn WeCom { get; private set; } = null!;
    public WeComCrypto WeComCrypto { get; } =
        new(WeComStandIn.DefaultToken, WeComStandIn.DefaultEncodingAesKey, WeComStandIn.DefaultCorpId);
    public Dictionary<string, string?> Settings { get; private set; } = [];

    public virtual async Task InitializeAsync()
    {
        await Database.InitializeAsync();
        WeCom = await WeComStandIn.StartAsync();
        Settings = new()
        {
            ["ConnectionStrings:Postgres"] = Database.ConnectionString,
            ["ConnectionStrings:PostgresOwner"] = Database.OwnerConnectionString,
            ["ConnectionStrings:Redis"] = LocalServers.Redis,
            ["ConnectionStrings:ClickHouse"] = LocalServers.ClickHouse,
            ["WeCom:CorpId"] = WeComStandIn.DefaultCorpId,
            ["WeCom:Token"] = WeComStandIn.DefaultToken,
            ["WeCom:EncodingAesKey"] = WeComStandIn.DefaultEncodingAesKey,
            ["WeCom:Secret"] = WeComStandIn.DefaultSecret,
            ["WeCom:ApiBaseUrl"] = WeCom.BaseUrl.ToString(),
            ["WeCom:Http:AttemptTimeout"] = "00:00:03",   // cued hangs trip it; a loaded CI machine must not
            ["WeCom:Http:RetryBaseDelay"] = "00:00:00.050",
            ["Topics:Default:PollInterval"] = "00:00:00.200",
            ["Topics:Default:RetryBaseDelay"] = "00:00:00.100",
            ["Topics:Default:RetryMaxDelay"] = "00:00:01",
            ["Topics:Default:MaxAttempts"] = "4",
            ["Topics:Default:LeaseDuration"] = "00:00:05",
            ["Auth:SessionKey"] = SessionKey,
            ["Auth:BootstrapAdminKey"] = AdminKey,
            // The alert timers post to the robot stand-in, which other tests count: tests that want them turn them on.
            ["Alerts:Enabled"] = "false",
        };
        foreach (var channel in ChannelRegistry.All.Where(c => c.Signature == SignatureScheme.Hmac))
            Settings[$"{channel.SettingsSection}:SigningSecret"] = CdpApp.SecretOf(channel.Name);
    }

    public virtual async Task DisposeAsync()
    {
        await WeCom.DisposeAsync();
        await Database.DisposeAsync();
    }

    /// <summary>The bootstrap admin key every test host runs with; <see cref="CdpApp.Client"/> sends it.</summary>
    public const string AdminKey = "test-bootstrap-admin-key-0123456789abcdef";

    public static readonly string SessionKey = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    /// <summary>The WeCom staff member who follows the contacts <see cref="NewContactAsync"/> makes.</summary>
    public const string SalesUserId = "sales01";

    /// <summary>A contact row; with a WeCom identity it is also an external contact of <see cref="SalesUserId"/> in the stand-in.</summary>
    public async Task<(Guid Id, string? ExternalUserId)> NewContactAsync(bool withWeCom = true)
    {
        var id = Guid.NewGuid();
        var external = withWeCom ? TestData.Id("wm") : null;
        await using var cmd = Database.DataSource.CreateCommand("""
            insert into contact (contact_id, contact_name, mobile_phone, wecom_external_user_id, shard_id) values ($1, $2, $3, $4, $5)
            """);
        cmd.Parameters.Add(new() { Value = id });
        cmd.Parameters.Add(new() { Value = "张三" });
        cmd.Parameters.Add(new() { Value = TestData.Mobile() });
        cmd.Parameters.Add(new() { Value = (object?)external ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = Shard.Of(id) });
        await cmd.ExecuteNonQueryAsync();
        if (external is not null) WeCom.AddContact(external, "张三", "华瑞科技", SalesUserId);
        return (id, external);
    }
}

/// <summary>
/// The local host in-process (WebApplicationFactory) on a <see cref="CdpBackend"/>, as an IClassFixture. Derive to
/// add settings or services for a test class.
/// </summary>
public class CdpApp : CdpBackend
{
    public const string CrmSecret = "test-crm-secret-0123456789abcdefghij";
    public const string WeChatSecret = "test-wechat-secret-0123456789abcdefghij";
    public const string ErpSecret = "test-erp-secret-0123456789abcdefghij";

    WebApplicationFactory<Program> factory = null!;

    /// <summary>A client that calls as the bootstrap admin (every permission); <see cref="Anonymous"/> calls as nobody.</summary>
    public HttpClient Client { get; private set; } = null!;
    public HttpClient Anonymous { get; private set; } = null!;
    public IServiceProvider Services => factory.Services;
    public LogCapture Logs { get; } = new();

    /// <summary>Settings over <see cref="CdpBackend.Settings"/>; read after the backend has started.</summary>
    protected virtual IEnumerable<KeyValuePair<string, string?>> ExtraSettings => [];

    protected virtual void ConfigureServices(IServiceCollection services) { }

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        factory = new WebApplicationFactory<Program>().WithWebHostBuilder(b => b
            .ConfigureAppConfiguration(c => c.AddInMemoryCollection(Settings).AddInMemoryCollection(ExtraSettings))
            .ConfigureServices(ConfigureServices)
            .ConfigureLogging(l => l.AddProvider(Logs)));
        Client = AsAdmin(factory.CreateClient());
        Anonymous = factory.CreateClient(new WebApplicationFactoryClientOptions { HandleCookies = false, AllowAutoRedirect = false });
    }

    /// <summary>A client of this host with cookies and no redirects followed (sign-in tests look at the 302s).</summary>
    public HttpClient NewClient() => factory.CreateClient(new WebApplicationFactoryClientOptions { HandleCookies = true, AllowAutoRedirect = false });

    public static HttpClient AsAdmin(HttpClient client)
    {
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", AdminKey);
        return client;
    }

    public override async Task DisposeAsync()
    {
        Client.Dispose();
        Anonymous.Dispose();
        await factory.DisposeAsync();
        await base.DisposeAsync();
    }

    /// <summary>The test signing secret of an HMAC channel (every registered one: a new channel needs nothing here).</summary>
    public static string SecretOf(string channel) =>
        ChannelNames.UsesHmac(channel) ? $"test-{channel}-secret-0123456789abcdefghij" : throw new ArgumentOutOfRangeException(nameof(channel));

    /// <summary>A request signed the way API.md says (override the time or secret to test refusals).</summary>
    public static HttpRequestMessage Signed(string channel, string json, DateTimeOffset? at = null, string? secret = null)
    {
        var timestamp = (at ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var body = Encoding.UTF8.GetBytes(json);
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/ingest/{channel}")
        {
            Content = new ByteArrayContent(body) { Headers = { { "Content-Type", "application/json" } } },
        };
        request.Headers.Add("X-Cdp-Timestamp", timestamp);
        request.Headers.Add("X-Cdp-Signature", WebhookSignature.Compute(secret ?? SecretOf(channel), timestamp, body));
        return request;
    }

    public static Task<HttpResponseMessage> PostSignedAsync(HttpClient client, string channel, string json) =>
        client.SendAsync(Signed(channel, json));

    /// <summary>Posts and returns the ingestion id, failing the test unless the answer is 202.</summary>
    public static async Task<(Guid Id, bool Duplicate)> IngestAsync(HttpClient client, string channel, string json)
    {
        using var response = await PostSignedAsync(client, channel, json);
        Assert.Equal(System.Net.HttpStatusCode.Accepted, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<AcceptedBody>();
        return (body!.IngestionId, body.Duplicate);
    }

    /// <summary>Polls GET /api/ingestions/{id} until it leaves 'queued'.</summary>
    public static async Task<IngestionStatus> SettledAsync(HttpClient client, Guid id, TimeSpan? timeout = null)
    {
        IngestionStatus? status = null;
        await Eventually.Until(async () =>
        {
            status = await client.GetFromJsonAsync<IngestionStatus>($"/api/ingestions/{id}", CdpJson.Options);
            return status!.Status != "queued";
        }, timeout ?? TimeSpan.FromSeconds(20));
        return status!;
    }

    sealed record AcceptedBody(Guid IngestionId, bool Duplicate);
}
