using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Cdp.Tests.Support;
using Dapper;
using Npgsql;

namespace Cdp.Tests.Imports;

/// <summary>The host with small chunks, so a few hundred records make several bulk-import messages.</summary>
public sealed class ImportApp : CdpApp
{
    protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings =>
        base.ExtraSettings.Concat(new Dictionary<string, string?> { ["Imports:ChunkRows"] = "50" });

    public static async Task<HttpResponseMessage> PostAsync(HttpClient client, string channel, string contentType, byte[] body)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        return await client.PostAsync($"/api/imports?channel={channel}", content);
    }

    /// <summary>Starts an import (202) and waits until it is done; its status document.</summary>
    public static async Task<JsonElement> ImportAsync(HttpClient client, string channel, string contentType, string body, TimeSpan? timeout = null)
    {
        using var response = await PostAsync(client, channel, contentType, Encoding.UTF8.GetBytes(body));
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("importId").GetGuid();
        Assert.Equal($"/api/imports/{id}", response.Headers.Location?.OriginalString);
        return await DoneAsync(client, id, timeout);
    }

    public static async Task<JsonElement> DoneAsync(HttpClient client, Guid id, TimeSpan? timeout = null)
    {
        JsonElement status = default;
        await Eventually.Until(async () =>
        {
            status = await client.GetFromJsonAsync<JsonElement>($"/api/imports/{id}");
            return status.GetProperty("state").GetString() is "done" or "failed";
        }, timeout ?? TimeSpan.FromSeconds(120), "the import finished");
        Assert.Equal("done", status.GetProperty("state").GetString());
        return status;
    }
}

/// <summary>Bulk imports (issue 14): NDJSON and CSV to entities with the webhooks' outcomes, refusals, resends, resume.</summary>
public sealed class ImportTests(ImportApp app) : IClassFixture<ImportApp>
{
    static string Crm(string sourceId, string objectType, object fields, DateTimeOffset? at = null) => JsonSerializer.Serialize(new
    {
        sourceId, objectType, modifiedAt = (at ?? DateTimeOffset.UtcNow.AddMinutes(-1)).ToString("O"), fields,
    });

    static int Count(JsonElement status, string name) => status.GetProperty(name).GetInt32();

    [Fact]
    public async Task An_ndjson_import_reaches_entities_with_the_webhook_outcomes_and_rejects_bad_lines_with_reasons()
    {
        var mobile = TestData.Mobile();
        var company = TestData.CompanyWord() + "科技有限公司";
        var contactId = TestData.Id("crm");
        var lines = new[]
        {
            Crm(contactId, "contact", new { LastName = "王", FirstName = "芳", MobilePhone = mobile, Company = company, City = "上海" }),
            "",
            Crm(TestData.Id("crm"), "lead", new { LastName = "李", FirstName = "雷", MobilePhone = TestData.Mobile(), Company = company }),
            Crm(TestData.Id("crm"), "account", new { AccountName = company, City = "上海" }),
            Crm(TestData.Id("crm"), "contact", new { LastName = "赵", MobilePhone = "12345" }),   // cleansing rejects it
            "{\"sourceId\": \"broken",                                                              // not JSON
            JsonSerializer.Serialize(new { objectType = "lead", modifiedAt = DateTimeOffset.UtcNow.ToString("O"), fields = new { } }),   // no sourceId
            Crm(TestData.Id("crm"), "contact", new { LastName = "孙", Email = "a\u0000b@example.com" }),   // NUL in a field
        };
        var status = await ImportApp.ImportAsync(app.Client, "crm", "application/x-ndjson", string.Join("\n", lines) + "\n");

        Assert.Equal(7, Count(status, "total"));
        Assert.Equal(7, Count(status, "done"));
        Assert.Equal(3, Count(status, "processed"));
        Assert.Equal(4, Count(status, "rejected"));
        Assert.Equal(0, Count(status, "duplicate"));
        var rejections = status.GetProperty("rejections").EnumerateArray()
            .ToDictionary(r => r.GetProperty("line").GetInt32(), r => r.GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("field").GetString()).ToList());
        Assert.Equal([5, 6, 7, 8], rejections.Keys.Order());
        Assert.Contains("mobile", rejections[5]);
        Assert.Contains("sourceId", rejections[7]);
        Assert.Contains("fields.Email", rejections[8]);

        // The same receipts the webhook pipeline leaves: the contact processed into a contact of the account.
        await using var db = NpgsqlDataSource.Create(app.Database.ConnectionString);
        await using var conn = await db.OpenConnectionAsync();
        var contact = await conn.QuerySingleAsync<(string Status, Guid EntityId, Guid? AccountId)>(
            "select status, entity_id, account_id from ingestion_receipt where channel = 'crm' and source_id = @contactId", new { contactId });
        Assert.Equal("processed", contact.Status);
        Assert.NotNull(contact.AccountId);
        Assert.Equal(mobile, await conn.QuerySingleAsync<string>("select mobile_phone from contact where contact_id = @EntityId", new { contact.EntityId }));
        Assert.Equal("rejected", await conn.QuerySingleAsync<string>(
            "select r.status from ingestion_receipt r join import_row i using (ingestion_id) where i.import_id = @id and i.line_no = 5",
            new { id = status.GetProperty("importId").GetGuid() }));
        Assert.Equal(1, await conn.QuerySingleAsync<int>(
            "select count(*) from audit_log where action = 'import.start' and entity_id = @id", new { id = status.GetProperty("importId").GetString() }));
    }

    [Fact]
    public async Task A_csv_import_reads_quoted_fields_and_rejects_a_record_with_the_wrong_number_of_fields()
    {
        var mobile = TestData.Mobile();
        var sourceId = TestData.Id("erp");
        var at = DateTimeOffset.UtcNow.AddMinutes(-1).ToString("O");
        var csv = "\uFEFFsourceId,objectType,modifiedAt,LastName,FirstName,Company,MobilePhone,Title\r\n"
            + $"{sourceId},contact,{at},欧阳,\"娜, 娜\",\"{TestData.CompanyWord()}有限公司\",{mobile},\"总监\n（华东）\"\r\n"
            + $"{TestData.Id("erp")},contact,{at},王\r\n"
            + $"{TestData.Id("erp")},account,{at},,,\"{TestData.CompanyWord()}\"\"新\"\"科技有限公司\",,\r\n";
        var status = await ImportApp.ImportAsync(app.Client, "erp", "text/csv; charset=utf-8", csv);

        Assert.Equal(3, Count(status, "total"));
        Assert.Equal(2, Count(status, "processed"));
        Assert.Equal(1, Count(status, "rejected"));
        var rejection = status.GetProperty("rejections")[0];
        Assert.Equal(4, rejection.GetProperty("line").GetInt32());   // the quoted line break moved it down one line
        Assert.Contains("fields", rejection.GetProperty("errors")[0].GetProperty("message").GetString());

        await using var db = NpgsqlDataSource.Create(app.Database.ConnectionString);
        await using var conn = await db.OpenConnectionAsync();
        var contact = await conn.QuerySingleAsync<(string? Name, string? Title)>("""
            select c.contact_name, c.title from ingestion_receipt r join contact c on c.contact_id = r.entity_id
            where r.channel = 'erp' and r.source_id = @sourceId
            """, new { sourceId });
        Assert.Equal("欧阳娜,娜", contact.Name);   // the comma came through the quotes
        Assert.Contains("总监", contact.Title);
    }

    [Fact]
    public async Task The_same_file_twice_makes_no_doubles()
    {
        var records = Enumerable.Range(0, 120).Select(i => Crm(TestData.Id("crm"), i % 2 == 0 ? "contact" : "lead",
            new { LastName = "周", FirstName = "明" + i, MobilePhone = TestData.Mobile(), Company = TestData.CompanyWord() + "有限公司" },
            DateTimeOffset.UtcNow.AddMinutes(-2))).ToList();
        var body = string.Join("\n", records.Append(records[0]));   // and one resend inside the file
        var first = await ImportApp.ImportAsync(app.Client, "crm", "application/x-ndjson", body);
        Assert.Equal(120, Count(first, "processed"));
        Assert.Equal(1, Count(first, "duplicate"));

        await using var db = NpgsqlDataSource.Create(app.Database.ConnectionString);
        await using var conn = await db.OpenConnectionAsync();
        const string entities = "select (select count(*) from contact) + (select count(*) from lead) + (select count(*) from ingestion_receipt)";
        var before = await conn.QuerySingleAsync<long>(entities);

        var second = await ImportApp.ImportAsync(app.Client, "crm", "application/x-ndjson", body);
        Assert.Equal(121, Count(second, "duplicate"));
        Assert.Equal(0, Count(second, "processed"));
        Assert.Equal(before, await conn.QuerySingleAsync<long>(entities));
        // A duplicate row points at the first receipt, as a resent webhook's answer does.
        Assert.Equal(0, await conn.QuerySingleAsync<long>(
            "select count(*) from import_row where import_id = @id and (ingestion_id is null or status <> 'duplicate')", new { id = second.GetProperty("importId").GetGuid() }));
    }

    public static TheoryData<string, string, string, int> Refusals => new()
    {
        { "crm", "application/x-ndjson", "", 400 },
        { "crm", "application/x-ndjson", "\n  \n", 400 },
        { "fax", "application/x-ndjson", "{}", 422 },
        { "wechat", "application/x-ndjson", "{}", 422 },
        { "crm", "application/json", "{}", 415 },
        { "crm", "text/plain", "a,b", 415 },
        { "crm", "text/csv", "LastName,FirstName\n王,芳\n", 400 },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task Refusals_are_clear_problems(string channel, string contentType, string body, int status)
    {
        using var response = await ImportApp.PostAsync(app.Client, channel, contentType, Encoding.UTF8.GetBytes(body));
        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task A_body_that_is_not_utf8_is_400_and_its_import_failed_with_nothing_staged()
    {
        var good = Encoding.UTF8.GetBytes(Crm(TestData.Id("crm"), "lead", new { LastName = "吴", MobilePhone = TestData.Mobile() }) + "\n");
        byte[] body = [.. good, 0xC3, 0x28, (byte)'\n'];
        using var response = await ImportApp.PostAsync(app.Client, "crm", "application/x-ndjson", body);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("UTF-8", await response.Content.ReadAsStringAsync());

        await using var db = NpgsqlDataSource.Create(app.Database.ConnectionString);
        await using var conn = await db.OpenConnectionAsync();
        var failed = await conn.QuerySingleAsync<Guid>("select import_id from import_job where state = 'failed' and error like '%UTF-8%' order by created_at desc limit 1");
        Assert.Equal(0, await conn.QuerySingleAsync<long>("select count(*) from import_row where import_id = @failed", new { failed }));
        var status = await app.Client.GetFromJsonAsync<JsonElement>($"/api/imports/{failed}");
        Assert.Equal("failed", status.GetProperty("state").GetString());
    }

    [Fact]
    public async Task Imports_need_a_caller_with_imports_write()
    {
        var body = Encoding.UTF8.GetBytes("{}\n");
        using var anonymous = await ImportApp.PostAsync(app.Anonymous, "crm", "application/x-ndjson", body);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);

        using var created = await app.Client.PostAsJsonAsync("/api/admin/api-keys", new { name = TestData.Id("reader"), permissions = new[] { "customers:read" } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var key = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString();
        using var client = app.NewClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", key);
        using var forbidden = await ImportApp.PostAsync(client, "crm", "application/x-ndjson", body);
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        using var status = await client.GetAsync($"/api/imports/{Guid.NewGuid()}");
        Assert.Equal(HttpStatusCode.Forbidden, status.StatusCode);
        using var missing = await app.Client.GetAsync($"/api/imports/{Guid.NewGuid()}");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task A_chunk_that_fails_after_resolving_is_resumed_without_doubles()
    {
        // Chunk 1 fails once as it is being finished, after its receipts and its resolution committed; the redelivery
        // must find them and neither write nor count anything twice.
        var tag = "f" + Guid.NewGuid().ToString("N")[..8];
        await using (var owner = new NpgsqlConnection(app.Database.OwnerConnectionString))
        {
            await owner.OpenAsync();
            await owner.ExecuteAsync($"""
                create sequence {tag}_seq;
                create function {tag}_fail() returns trigger language plpgsql security definer as $$
                begin
                    if new.state = 'done' and new.chunk = 1 and nextval('{tag}_seq') = 1 then
                        raise exception 'chunk 1 fails once';
                    end if;
                    return new;
                end $$;
                create trigger {tag}_trigger before update on import_chunk for each row execute function {tag}_fail();
                """);
        }
        try
        {
            var records = Enumerable.Range(0, 160).Select(i => Crm(TestData.Id("crm"), "contact",
                new { LastName = "郑", FirstName = "文" + i, MobilePhone = TestData.Mobile(), Company = TestData.CompanyWord() + "有限公司", City = "杭州" },
                DateTimeOffset.UtcNow.AddMinutes(-2)));
            var status = await ImportApp.ImportAsync(app.Client, "crm", "application/x-ndjson", string.Join("\n", records), TimeSpan.FromMinutes(3));
            Assert.Equal(160, Count(status, "total"));
            Assert.Equal(160, Count(status, "done"));
            Assert.Equal(160, Count(status, "processed"));

            var id = status.GetProperty("importId").GetGuid();
            await using var db = NpgsqlDataSource.Create(app.Database.ConnectionString);
            await using var conn = await db.OpenConnectionAsync();
            Assert.Equal(160, await conn.QuerySingleAsync<long>(
                "select count(distinct r.entity_id) from import_row i join ingestion_receipt r using (ingestion_id) where i.import_id = @id and r.status = 'processed'", new { id }));
            Assert.Equal(160, await conn.QuerySingleAsync<long>(
                "select count(*) from import_row i join ingestion_receipt r using (ingestion_id) join contact c on c.contact_id = r.entity_id where i.import_id = @id", new { id }));
            await using var owner = new NpgsqlConnection(app.Database.OwnerConnectionString);
            Assert.Equal(2L, await owner.QuerySingleAsync<long>($"select last_value from {tag}_seq"));   // it did fail once
        }
        finally
        {
            await using var owner = new NpgsqlConnection(app.Database.OwnerConnectionString);
            await owner.OpenAsync();
            await owner.ExecuteAsync($"drop trigger {tag}_trigger on import_chunk; drop function {tag}_fail(); drop sequence {tag}_seq;");
        }
    }
}
