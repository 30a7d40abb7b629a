using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Cdp.Shared.Privacy;
using Cdp.Shared.Storage;
using Cdp.Tests.Support;
using Dapper;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Cdp.Tests.Events;

/// <summary>
/// The local host in-process on its own Postgres database and its own ClickHouse database (created by the host's
/// writer, dropped here), so event tests never see each other's rows.
/// </summary>
public class EventsApp : CdpBackend
{

    readonly List<WebApplicationFactory<Program>> hosts = [];
    public string ClickHouseDatabase { get; } = "cdp_t_ev_" + Guid.NewGuid().ToString("N")[..12];
    public HttpClient Client { get; private set; } = null!;
    public IServiceProvider Services => hosts[0].Services;
    public LogCapture Logs { get; } = new();
    public HttpClient ClickHouse { get; } = LocalServers.ClickHouseClient();

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Settings["ClickHouse:Database"] = ClickHouseDatabase;
        Settings["Events:WriterMaxWait"] = "00:00:00.050";
        foreach (var (name, value) in ExtraSettings) Settings[name] = value;
        if (StartsHost) Client = CdpApp.AsAdmin(StartHost().CreateClient());
    }

    /// <summary>Settings over the backend's and the events defaults, for every host this fixture starts.</summary>
    protected virtual IEnumerable<KeyValuePair<string, string?>> ExtraSettings => [];

    protected virtual void ConfigureServices(IServiceCollection services) { }

    /// <summary>A client of a host (the first by default) with no credentials of its own.</summary>
    public HttpClient NewClient(WebApplicationFactory<Program>? host = null) => (host ?? hosts[0]).CreateClient();

    /// <summary>False for a fixture whose tests start their own hosts (with settings of their own).</summary>
    protected virtual bool StartsHost => true;

    public async Task StopHostAsync(WebApplicationFactory<Program> host)
    {
        hosts.Remove(host);
        await host.DisposeAsync();
    }

    /// <summary>Another host on the same databases, with some settings changed (e.g. ClickHouse on a closed port).</summary>
    public WebApplicationFactory<Program> StartHost(IDictionary<string, string?>? overrides = null)
    {
        var settings = new Dictionary<string, string?>(Settings);
        foreach (var (k, v) in overrides ?? new Dictionary<string, string?>()) settings[k] = v;
        var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(b => b
            .ConfigureAppConfiguration(c => c.AddInMemoryCollection(settings))
            .ConfigureServices(ConfigureServices)
            .ConfigureLogging(l => l.AddProvider(Logs)));
        _ = factory.Server;   // start it, so its writer runs
        hosts.Add(factory);
        return factory;
    }

    public override async Task DisposeAsync()
    {
        Client?.Dispose();
        foreach (var host in hosts) await host.DisposeAsync();
        try { await ClickHouseSql($"DROP DATABASE IF EXISTS {ClickHouseDatabase}"); } catch (HttpRequestException) { }
        ClickHouse.Dispose();
        await base.DisposeAsync();
    }

    public async Task<string> ClickHouseSql(string sql)
    {
        using var response = await ClickHouse.PostAsync("", new StringContent(sql, Encoding.UTF8, "text/plain"));
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode) throw new HttpRequestException($"ClickHouse {(int)response.StatusCode}: {text}");
        return text.Trim();
    }

    /// <summary>How ClickHouse and the event-stream name a user: the keyed hash of the SDK's userId.</summary>
    public string UserHash(string userId) => Services.GetRequiredService<SubjectHash>().UserId(userId);

    /// <summary>Distinct event ids stored for a user (repeats not yet merged are counted once).</summary>
    public async Task<long> DistinctEventsOfUser(string userId)
    {
        try
        {
            return long.Parse(await ClickHouseSql(
                $"SELECT uniqExact(event_id) FROM {ClickHouseDatabase}.behaviour_event WHERE user_id = '{UserHash(userId)}'"));
        }
        catch (HttpRequestException) { return -1; }   // the table may not exist yet
    }

    /// <summary>Waits until the writer has taken every event-stream message of the user (inserted and deleted).</summary>
    public async Task DrainedAsync(string userId, TimeSpan timeout)
    {
        await using var conn = await Database.DataSource.OpenConnectionAsync();
        await Eventually.Until(async () => await conn.ExecuteScalarAsync<long>(
            """
            select count(*) from topic_message
             where topic = 'event-stream' and (message_key = @user or payload::jsonb @> jsonb_build_array(jsonb_build_object('user_id', @user::text)))
            """, new { user = UserHash(userId) }) == 0,
            timeout, $"event-stream drained for {userId}");
    }

    public async Task<long> RowsOfUser(string userId) => long.Parse(await ClickHouseSql(
        $"SELECT count() FROM {ClickHouseDatabase}.behaviour_event WHERE user_id = '{UserHash(userId)}'"));

    public async Task<Guid> NewAccountAsync()
    {
        var id = Guid.CreateVersion7();
        await using var conn = await Database.DataSource.OpenConnectionAsync();
        await conn.ExecuteAsync("""
            insert into account (account_id, account_name, name_normalized, name_short, shard_id) values (@id, @name, @name, @name, @shard)
            """, new { id, name = "事件测试" + id.ToString("N")[..8] + "有限公司", shard = Shard.Of(id) });
        return id;
    }

    public static object Event(string eventId, string userId, string type = "page_view", Guid? accountId = null,
        Guid? contactId = null, DateTimeOffset? at = null, object? properties = null) => new
    {
        eventId, userId, type, accountId, contactId,
        occurredAt = (at ?? DateTimeOffset.UtcNow.AddMinutes(-5)).ToString("O"),
        properties = properties ?? new { path = "/pricing" },
    };

    public static Task<HttpResponseMessage> PostAsync(HttpClient client, IEnumerable<object> events) =>
        client.PostAsJsonAsync("/api/events", new { events });

    public static async Task<AcceptedEvents> PostOkAsync(HttpClient client, IEnumerable<object> events)
    {
        using var response = await PostAsync(client, events);
        Assert.Equal(System.Net.HttpStatusCode.Accepted, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<AcceptedEvents>(JsonSerializerOptions.Web))!;
    }

    public sealed record AcceptedEvents(int Accepted, List<Rejection> Rejected, int Untrusted);
    public sealed record Rejection(int Index, string Reason);
}
