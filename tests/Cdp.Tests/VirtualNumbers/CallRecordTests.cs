using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Cdp.Shared;
using Cdp.Shared.VirtualNumbers;
using Cdp.Tests.Support;
using Dapper;

namespace Cdp.Tests.VirtualNumbers;

/// <summary>
/// <c>POST /api/ingest/calls</c>: the provider's call records (signed like crm) become touchpoints on the contact's
/// 360 and feed its summary; a secret (X) number is never matched to anyone.
/// </summary>
public sealed class CallRecordTests(VirtualNumberApp app) : IClassFixture<VirtualNumberApp>
{
    [Fact]
    public async Task A_call_record_becomes_a_call_touchpoint_on_the_contacts_360_and_its_summary_counts_it()
    {
        var (contact, _) = await app.NewContactAsync(withWeCom: false);
        var a = await MobileOfAsync(contact);
        var b = TestData.Mobile();
        using var bind = await VirtualNumberTests.BindAsync(app.Client, new { mode = "AXB", contactId = contact, b, requestId = VirtualNumberTests.NewRequestId() });
        Assert.Equal(HttpStatusCode.OK, bind.StatusCode);
        var binding = (await bind.Content.ReadFromJsonAsync<BindingView>(CdpJson.Options))!;

        var callId = TestData.Id("call");
        var record = new[]
        {
            new
            {
                sub_id = "subs-x", call_id = callId, phone_no = b, secret_no = binding.VirtualNumber, peer_no = a, call_type = "0",
                call_time = "2026-11-26 10:00:00", start_time = "2026-11-26 10:00:05", release_time = "2026-11-26 10:01:10",
                release_cause = "16", out_id = binding.BindingId.ToString(), record_url = "https://records.example.com/r/1.mp3",
            },
        };
        var answer = await PushAsync(record);
        Assert.Equal((1, 0, 0), (answer.Accepted, answer.Duplicates, answer.Unmatched));
        Assert.Equal((0, 1), ((await PushAsync(record)).Accepted, (await PushAsync(record)).Duplicates));

        var view = await app.Client.GetFromJsonAsync<JsonElement>($"/api/contacts/{contact}/360");
        var call = view.GetProperty("touchpoints").EnumerateArray().Single(t => t.GetProperty("type").GetString() == CallRecords.TouchpointType);
        Assert.Equal(CallsChannel.Name, call.GetProperty("channelId").GetString());
        var details = call.GetProperty("details");
        Assert.Equal(("outbound", true, 65), (details.GetProperty("direction").GetString(), details.GetProperty("answered").GetBoolean(), details.GetProperty("durationSeconds").GetInt32()));
        Assert.Equal("https://records.example.com/r/1.mp3", details.GetProperty("recordingUrl").GetString());

        await Eventually.Until(async () =>
        {
            await using var conn = await app.Database.DataSource.OpenConnectionAsync();
            return await conn.QuerySingleOrDefaultAsync<int?>("select total_touchpoints from contact_summary where contact_id = @contact", new { contact }) == 1;
        }, TimeSpan.FromSeconds(60), "the summary counts the call");
    }

    [Fact]
    public async Task A_secret_number_is_never_matched_as_a_persons_phone()
    {
        // A contact whose stored mobile is a number that arrived as X (a CRM typo, a copied caller id).
        var bound = await BindXbAsync();
        var (holder, _) = await app.NewContactAsync(withWeCom: false);
        await using (var conn = await app.Database.DataSource.OpenConnectionAsync())
            await conn.ExecuteAsync("update contact set mobile_phone = @x where contact_id = @holder", new { x = bound.VirtualNumber, holder });
        var (customer, _) = await app.NewContactAsync(withWeCom: false);
        var customerMobile = await MobileOfAsync(customer);

        var answer = await PushAsync(new[]
        {
            // X in secret_no, an unknown caller: nobody.
            Call(TestData.Id("call"), phoneNo: TestData.Mobile(), secretNo: customerMobile, peerNo: TestData.Mobile()),
            // X arriving as a party's number: still nobody.
            Call(TestData.Id("call"), phoneNo: bound.VirtualNumber!, secretNo: TestData.Mobile(), peerNo: TestData.Mobile()),
        });

        Assert.Equal((0, 2), (answer.Accepted, answer.Unmatched));
        await using var check = await app.Database.DataSource.OpenConnectionAsync();
        Assert.Equal(0, await check.QuerySingleAsync<int>(
            "select count(*)::int from touchpoint where contact_id = any(@ids) and touchpoint_type = 'call'", new { ids = new[] { holder, customer } }));
    }

    [Fact]
    public async Task A_CRM_contact_carrying_an_X_number_as_its_mobile_neither_matches_nor_keeps_it()
    {
        var x = (await BindXbAsync()).VirtualNumber!;
        var (first, _) = await CdpApp.IngestAsync(app.Anonymous, "crm", CrmContact(TestData.Id(), x));
        var (second, _) = await CdpApp.IngestAsync(app.Anonymous, "crm", CrmContact(TestData.Id(), x));
        var one = await CdpApp.SettledAsync(app.Client, first, TimeSpan.FromSeconds(60));
        var two = await CdpApp.SettledAsync(app.Client, second, TimeSpan.FromSeconds(60));

        Assert.Equal(("processed", "processed"), (one.Status, two.Status));
        Assert.NotEqual(one.EntityId, two.EntityId);
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        Assert.Equal(0, await conn.QuerySingleAsync<int>("select count(*)::int from contact where mobile_phone = @x", new { x }));
    }

    static string CrmContact(string sourceId, string mobile) => JsonSerializer.Serialize(new
    {
        sourceId, objectType = "contact", modifiedAt = DateTimeOffset.UtcNow.AddMinutes(-1),
        fields = new { LastName = "李", FirstName = "四", MobilePhone = mobile },
    });

    [Fact]
    public async Task An_unsigned_push_is_refused()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/ingest/calls") { Content = JsonContent.Create(Array.Empty<object>()) };
        using var response = await app.Anonymous.SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    static object Call(string callId, string phoneNo, string secretNo, string peerNo) => new
    {
        call_id = callId, phone_no = phoneNo, secret_no = secretNo, peer_no = peerNo, call_type = "1",
        call_time = "2026-11-26 09:00:00", start_time = "2026-11-26 09:00:00", release_time = "2026-11-26 09:00:00", release_cause = "19",
    };

    async Task<BindingView> BindXbAsync()
    {
        using var response = await VirtualNumberTests.BindAsync(app.Client, new { mode = "XB", b = TestData.Mobile(), requestId = VirtualNumberTests.NewRequestId() });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<BindingView>(CdpJson.Options))!;
    }

    async Task<CallsAccepted> PushAsync(object records)
    {
        using var response = await CdpApp.PostSignedAsync(app.Anonymous, CallsChannel.Name, JsonSerializer.Serialize(records));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"{response.StatusCode}: {text}");
        return JsonSerializer.Deserialize<CallsAccepted>(text, CdpJson.Options)!;
    }

    async Task<string> MobileOfAsync(Guid contact)
    {
        await using var conn = await app.Database.DataSource.OpenConnectionAsync();
        return await conn.QuerySingleAsync<string>("select mobile_phone from contact where contact_id = @contact", new { contact });
    }
}
