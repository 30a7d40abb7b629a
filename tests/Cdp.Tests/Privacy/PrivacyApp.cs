using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Cdp.Shared;
using Cdp.Shared.Events;
using Cdp.Shared.Privacy;
using Cdp.Tests.Support;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Cdp.Tests.Privacy;

/// <summary>The local host on its own Postgres and ClickHouse databases (events land there; dropped at the end).</summary>
public sealed class PrivacyApp : CdpApp
{
    public string ClickHouseDatabase { get; } = "cdp_t_pv_" + Guid.NewGuid().ToString("N")[..12];
    readonly HttpClient clickHouse = LocalServers.ClickHouseClient();

    protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings =>
        [new("ClickHouse:Database", ClickHouseDatabase), new("Events:WriterMaxWait", "00:00:00.050")];

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Assert.True(await Services.GetRequiredService<EventStreamWriter>().TryEnsureSchemaAsync(CancellationToken.None));
    }

    public override async Task DisposeAsync()
    {
        try { await ClickHouseSql($"DROP DATABASE IF EXISTS {ClickHouseDatabase}"); } catch (HttpRequestException) { }
        clickHouse.Dispose();
        await base.DisposeAsync();
    }

    public string UserHash(string userId) => Services.GetRequiredService<SubjectHash>().UserId(userId);

    public string EventsTable => $"{ClickHouseDatabase}.{ClickHouseHttp.Table}";

    public async Task<string> ClickHouseSql(string sql)
    {
        using var response = await clickHouse.PostAsync("", new StringContent(sql, Encoding.UTF8, "text/plain"));
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode) throw new HttpRequestException($"ClickHouse {(int)response.StatusCode}: {text}");
        return text.Trim();
    }

    public async Task<long> ClickHouseCount(string where) => long.Parse(await ClickHouseSql($"SELECT count() FROM {EventsTable} WHERE {where}"));

    /// <summary>Rows matching <paramref name="where"/> in the events' ordered copies (ClickHouseHttp.OrderedCopies), all summed.</summary>
    public async Task<long> ClickHouseCopiesCount(string where)
    {
        long n = 0;
        foreach (var (copy, _) in ClickHouseHttp.OrderedCopies) n += long.Parse(await ClickHouseSql($"SELECT count() FROM {ClickHouseDatabase}.{copy} WHERE {where}"));
        return n;
    }

    /// <summary>A person as the CRM sends them: a contact at <paramref name="company"/>, settled; their contact id.</summary>
    public async Task<Guid> CrmContactAsync(string company, string mobile, string email, string? spelledMobile = null)
    {
        var (id, _) = await IngestAsync(Client, "crm", Payloads.Crm("contact",
            new { LastName = "隐", FirstName = "私", Company = company, City = "上海", MobilePhone = spelledMobile ?? mobile, Email = email }));
        var settled = await SettledAsync(Client, id);
        Assert.Equal("processed", settled.Status);
        return settled.EntityId!.Value;
    }

    public async Task PostEventsAsync(params object[] events)
    {
        using var response = await Client.PostAsJsonAsync("/api/events", new { events });
        Assert.Equal(System.Net.HttpStatusCode.Accepted, response.StatusCode);
    }

    public static object Event(string userId, Guid? contactId, string type = "page_view") => new
    {
        eventId = TestData.Id("ev"), userId, type, contactId,
        occurredAt = DateTimeOffset.UtcNow.AddMinutes(-5).ToString("O"), properties = new { path = "/pricing" },
    };

    /// <summary>Every row of every table, as "table.column", whose text (or its digits alone) contains <paramref name="needle"/>.</summary>
    public async Task<List<string>> WhereInPostgresAsync(string needle)
    {
        await using var conn = await Database.DataSource.OpenConnectionAsync();
        var columns = await conn.QueryAsync<(string Table, string Column)>("""
            select table_name, column_name from information_schema.columns
            where table_schema = 'public' and data_type in ('text', 'character varying', 'jsonb', 'json', 'ARRAY')
            """);
        var digits = needle.All(char.IsAsciiDigit);
        var found = new List<string>();
        foreach (var (table, column) in columns)
        {
            var sql = digits
                ? $"select count(*) from \"{table}\" where regexp_replace(\"{column}\"::text, '[^0-9]', '', 'g') like '%' || @needle || '%'"
                : $"select count(*) from \"{table}\" where strpos(lower(\"{column}\"::text), lower(@needle)) > 0";
            if (await conn.ExecuteScalarAsync<long>(sql, new { needle }) > 0) found.Add($"{table}.{column}");
        }
        return found;
    }

    public static async Task<JsonElement> WaitForRequestAsync(HttpClient client, Guid requestId, TimeSpan timeout)
    {
        JsonElement request = default;
        await Eventually.Until(async () =>
        {
            request = await client.GetFromJsonAsync<JsonElement>($"/api/privacy/requests/{requestId}", CdpJson.Options);
            return request.GetProperty("status").GetString() == "completed";
        }, timeout, "the erasure completed");
        return request;
    }
}
