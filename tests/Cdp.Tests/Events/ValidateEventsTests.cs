using System.Text;
using System.Text.Json.Nodes;
using Cdp.Shared.Api;
using Cdp.Shared.Events;

namespace Cdp.Tests.Events;

/// <summary>The pure decisions of the events path: validation, personal-data scrubbing, name-based ids.</summary>
public sealed class ValidateEventsTests
{
    static readonly DateTimeOffset Now = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    static (ValidEvent? Event, string? Reason) One(string json) => ValidateEvents.ValidateOne(JsonNode.Parse(json), Now);

    [Theory]
    [InlineData("""{"userId":"u","type":"t","occurredAt":"2026-11-22T10:00:00Z"}""", "eventId")]
    [InlineData("""{"eventId":"e","type":"t","occurredAt":"2026-11-22T10:00:00Z"}""", "userId")]
    [InlineData("""{"eventId":"e","userId":"  ","type":"t","occurredAt":"2026-11-22T10:00:00Z"}""", "userId")]
    [InlineData("""{"eventId":"e","userId":"u","occurredAt":"2026-11-22T10:00:00Z"}""", "type")]
    [InlineData("""{"eventId":"e","userId":"u","type":"bad type!","occurredAt":"2026-11-22T10:00:00Z"}""", "type")]
    [InlineData("""{"eventId":"e","userId":"u","type":"t","occurredAt":"yesterday"}""", "occurredAt")]
    [InlineData("""{"eventId":"e","userId":"u","type":"t","occurredAt":"2026-11-22T10:00:00"}""", "occurredAt")]
    [InlineData("""{"eventId":"e","userId":"u","type":"t","occurredAt":"2026-11-23T12:00:01Z"}""", "future")]
    [InlineData("""{"eventId":"e","userId":"u","type":"t","occurredAt":"2026-11-22T10:00:00Z","leadId":"x"}""", "leadId")]
    [InlineData("""{"eventId":"e","userId":"u","type":"t","occurredAt":"2026-11-22T10:00:00Z","contactId":5}""", "contactId")]
    [InlineData("""{"eventId":"e","userId":"u","type":"t","occurredAt":"2026-11-22T10:00:00Z","properties":[1]}""", "properties")]
    [InlineData("""{"eventId":"e","userId":"u","type":"t","occurredAt":"2026-11-22T10:00:00Z","identityToken":42}""", "identityToken")]
    [InlineData("""[1]""", "object")]
    public void Rejects_with_a_reason_naming_the_field(string json, string field)
    {
        var (ev, reason) = One(json);
        Assert.Null(ev);
        Assert.Contains(field, reason);
    }

    [Fact]
    public void Accepts_a_full_event_and_normalises_its_time_to_utc()
    {
        var account = Guid.NewGuid();
        var (ev, reason) = One($$$"""{"eventId":"e1","userId":"u1","accountId":"{{{account}}}","leadId":null,"type":"page.view","occurredAt":"2026-11-22T18:00:00+08:00","properties":{"a":1}}""");
        Assert.Null(reason);
        Assert.Equal(account, ev!.AccountId);
        Assert.Null(ev.LeadId);
        Assert.Equal(new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.Zero), ev.OccurredAt);
        Assert.Equal("""{"a":1}""", ev.PropertiesJson);
        Assert.Equal("2026-11-22 10:00:00", EventRow.From(ev, Now).OccurredAt);
    }

    [Fact]
    public void A_long_event_id_is_rejected()
    {
        var (ev, reason) = One($$"""{"eventId":"{{new string('e', 101)}}","userId":"u","type":"t","occurredAt":"2026-11-22T10:00:00Z"}""");
        Assert.Null(ev);
        Assert.Contains("100", reason);
    }

    [Fact]
    public void A_batch_counts_repeats_as_accepted_but_keeps_one_and_reports_bad_ones_by_index()
    {
        const string good = """{"eventId":"e1","userId":"u","type":"t","occurredAt":"2026-11-22T10:00:00Z"}""";
        var batch = ValidateEvents.Validate(Encoding.UTF8.GetBytes($$"""{"events":[{{good}},{},{{good}}]}"""), 1000, Now);
        Assert.Equal(2, batch.Accepted);
        Assert.Single(batch.Events);
        Assert.Equal(1, Assert.Single(batch.Rejected).Index);
    }

    [Theory]
    [InlineData("{", 400)]
    [InlineData("{}", 422)]
    [InlineData("""{"events":"x"}""", 422)]
    [InlineData("""{"events":[{},{},{}]}""", 422)]
    public void Request_level_problems(string body, int status)
    {
        var e = Assert.Throws<ApiProblemException>(() => ValidateEvents.Validate(Encoding.UTF8.GetBytes(body), 2, Now));
        Assert.Equal(status, e.Problem.Status);
    }

    [Fact]
    public void Personal_keys_are_dropped_and_personal_values_masked_at_any_depth()
    {
        var scrubbed = ScrubPersonalData.Scrub(JsonNode.Parse("""
            {"mobile":"13812345678","Email":"a@b.cn","phone_number":"1","contact_email":"x","note":"call +86 138-1234-5678 now",
             "list":["a@b.cn","ok"],"inner":{"tel":"1","plan":"pro"},"n":5,"orderNo":"202611220001234"}
            """)!.AsObject());
        Assert.Equal(
            """{"note":"***","list":["***","ok"],"inner":{"plan":"pro"},"n":5,"orderNo":"202611220001234"}""",
            scrubbed.ToJsonString());
    }

    [Theory]
    [InlineData("x@y.z", true)]
    [InlineData("write to a.b@c.d please", true)]
    [InlineData("13812345678", true)]
    [InlineData("+86 138 1234 5678", true)]
    [InlineData("order 202611220001234", false)]
    [InlineData("a@b", false)]
    [InlineData("plain text", false)]
    public void Personal_values_are_recognised_as_before(string value, bool personal) =>
        Assert.Equal(personal, ScrubPersonalData.LooksPersonal(value));

    [Theory]
    [InlineData("a", false)]      // "aaaa...@aaaa..." with no dot: the old pattern's quadratic case
    [InlineData("@", false)]
    [InlineData("a@", false)]
    [InlineData("1", false)]
    [InlineData("13812345678 ", true)]
    public void A_2_MB_property_scrubs_in_linear_time(string unit, bool masked)
    {
        var value = string.Concat(Enumerable.Repeat(unit, 2 * 1024 * 1024 / unit.Length));
        if (unit == "a") value = value[..(value.Length / 2)] + "@" + value[(value.Length / 2)..];
        var properties = new JsonObject { ["big"] = value };
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var scrubbed = ScrubPersonalData.Scrub(properties);
        clock.Stop();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
        Assert.Equal(masked, scrubbed["big"]!.GetValue<string>() == ScrubPersonalData.Mask);
    }

    [Fact]
    public void Name_based_ids_are_stable_version_5_uuids()
    {
        // RFC 9562 appendix: the DNS namespace and "www.example.com".
        Assert.Equal(new Guid("2ed6657d-e927-568b-95e1-2665a8aea6a2"),
            NameBasedGuid.Create(new Guid("6ba7b810-9dad-11d1-80b4-00c04fd430c8"), "www.example.com"));
        Assert.Equal(NameBasedGuid.Create(NameBasedGuid.EventNamespace, "e1"), NameBasedGuid.Create(NameBasedGuid.EventNamespace, "e1"));
    }
}
