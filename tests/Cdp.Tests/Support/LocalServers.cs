using System.Globalization;
using System.Net.Http.Headers;
using System.Text;

namespace Cdp.Tests.Support;

/// <summary>
/// The Postgres, Redis and ClickHouse that ./cdp runs, with this install's credentials: the connection strings
/// ./cdp test exports, else built from the credentials file ./cdp writes (.cdp/credentials, or CDP_STATE_DIR's), so a
/// plain <c>dotnet test</c> works after <c>./cdp deps</c>. Postgres: <see cref="PostgresOwner"/> owns the databases
/// and migrates them, <see cref="Postgres"/> is the hosts' role, which may only read and write rows.
/// </summary>
public static class LocalServers
{
    static readonly Dictionary<string, string> Credentials = ReadCredentials();

    public static string Postgres { get; } = Setting("Postgres")
        ?? $"Host=127.0.0.1;Port={Port("CDP_PG_PORT", 55432)};Username=cdp;Password={Credential("PG_APP_PASSWORD") ?? "cdp"};Database=cdp";

    public static string PostgresOwner { get; } = Setting("PostgresOwner")
        ?? (Credential("PG_OWNER_PASSWORD") is { } password
            ? $"Host=127.0.0.1;Port={Port("CDP_PG_PORT", 55432)};Username=cdp_owner;Password={password};Database=cdp"
            : Postgres);

    public static string Redis { get; } = Setting("Redis")
        ?? $"127.0.0.1:{Port("CDP_REDIS_PORT", 56379)}{(Credential("REDIS_PASSWORD") is { } password ? ",password=" + password : "")},abortConnect=false";

    /// <summary>http://cdp:password@127.0.0.1:port (the form the hosts read).</summary>
    public static string ClickHouse { get; } = Setting("ClickHouse")
        ?? $"http://{(Credential("CLICKHOUSE_PASSWORD") is { } password ? "cdp:" + password + "@" : "")}127.0.0.1:{Port("CDP_CH_HTTP_PORT", 58123)}";

    /// <summary>A client for ClickHouse's HTTP interface, signed in as <see cref="ClickHouse"/>'s user.</summary>
    public static HttpClient ClickHouseClient()
    {
        var uri = new Uri(ClickHouse);
        var client = new HttpClient { BaseAddress = new Uri($"{uri.Scheme}://{uri.Authority}/") };
        if (uri.UserInfo.Length > 0)
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic",
                Convert.ToBase64String(Encoding.UTF8.GetBytes(Uri.UnescapeDataString(uri.UserInfo))));
        return client;
    }

    static string? Setting(string name) => Environment.GetEnvironmentVariable("ConnectionStrings__" + name);

    static string? Credential(string key) => Credentials.GetValueOrDefault(key);

    static int Port(string variable, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(variable), NumberStyles.None, CultureInfo.InvariantCulture, out var port) ? port : fallback;

    static Dictionary<string, string> ReadCredentials()
    {
        var state = Environment.GetEnvironmentVariable("CDP_STATE_DIR") is { Length: > 0 } dir ? dir : Path.Combine(Repo.Root, ".cdp");
        var file = Path.Combine(state, "credentials");
        if (!File.Exists(file)) return [];
        return File.ReadAllLines(file)
            .Where(line => !line.StartsWith('#') && line.Contains('=', StringComparison.Ordinal))
            .Select(line => line.Split('=', 2))
            .ToDictionary(kv => kv[0].Trim(), kv => kv[1].Trim());
    }
}
