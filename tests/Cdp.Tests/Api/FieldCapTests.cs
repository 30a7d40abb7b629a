using System.Text;
using System.Text.Json.Nodes;
using Cdp.Shared.Api;
using Cdp.Shared.Events;
using Cdp.Shared.Ingestion;
using Cdp.Shared.Search;

namespace Cdp.Tests.Api;

/// <summary>Cost bounds: every field cap accepts a value just at it and refuses one just above it, before any work.</summary>
public sealed class FieldCapTests
{
    static readonly DateTimeOffset Now = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    static ReadOnlyMemory<byte> Crm(JsonObject fields) => Encoding.UTF8.GetBytes(new JsonObject
    {
        ["sourceId"] = "s1", ["objectType"] = "lead", ["modifiedAt"] = "2026-11-01T08:00:00+08:00", ["fields"] = fields,
    }.ToJsonString());

    static ReadOnlyMemory<byte> WeChat(string field, string value) => Encoding.UTF8.GetBytes(new JsonObject
    {
        ["openId"] = "o1", ["formId"] = "f1", ["submittedAt"] = "2026-11-01T08:00:00+08:00", [field] = value,
    }.ToJsonString());

    static SourceEnvelope Read(string channel, ReadOnlyMemory<byte> body) => ChannelPayloads.ReadEnvelope(channel, body, DateTimeOffset.UtcNow);

    [Theory]
    [InlineData("LastName", ChannelPayloads.MaxNameLength)]
    [InlineData("FullName", ChannelPayloads.MaxNameLength)]
    [InlineData("Company", ChannelPayloads.MaxCompanyLength)]
    [InlineData("AccountName", ChannelPayloads.MaxCompanyLength)]
    [InlineData("Title", ChannelPayloads.MaxTitleLength)]
    [InlineData("City", ChannelPayloads.MaxOtherFieldLength)]
    public void Record_field_caps(string field, int cap)
    {
        Read("crm", Crm(new JsonObject { [field] = new string('x', cap) }));
        var problem = Assert.Throws<ApiProblemException>(() => Read("crm", Crm(new JsonObject { [field] = new string('x', cap + 1) }))).Problem;
        Assert.Equal(422, problem.Status);
        Assert.Equal([$"fields.{field}"], problem.Errors!.Keys);
    }

    [Theory]
    [InlineData("name", ChannelPayloads.MaxNameLength)]
    [InlineData("company", ChannelPayloads.MaxCompanyLength)]
    [InlineData("title", ChannelPayloads.MaxTitleLength)]
    [InlineData("utmCampaign", ChannelPayloads.MaxOtherFieldLength)]
    public void Form_field_caps(string field, int cap)
    {
        Read("wechat", WeChat(field, new string('x', cap)));
        var problem = Assert.Throws<ApiProblemException>(() => Read("wechat", WeChat(field, new string('x', cap + 1)))).Problem;
        Assert.Equal(422, problem.Status);
        Assert.Equal([field], problem.Errors!.Keys);
    }

    [Fact]
    public void Record_field_count_and_name_caps()
    {
        JsonObject Many(int n) => new(Enumerable.Range(0, n).Select(i => KeyValuePair.Create<string, JsonNode?>($"F{i}", "v")));
        Read("crm", Crm(Many(ChannelPayloads.MaxFields)));
        Assert.Equal(422, Assert.Throws<ApiProblemException>(() => Read("crm", Crm(Many(ChannelPayloads.MaxFields + 1)))).Problem.Status);
        Read("crm", Crm(new JsonObject { [new string('k', ChannelPayloads.MaxFieldNameLength)] = "v" }));
        Assert.Equal(422, Assert.Throws<ApiProblemException>(() =>
            Read("crm", Crm(new JsonObject { [new string('k', ChannelPayloads.MaxFieldNameLength + 1)] = "v" }))).Problem.Status);
    }

    static string? EventReason(JsonNode properties) => ValidateEvents.ValidateOne(new JsonObject
    {
        ["eventId"] = "e1", ["userId"] = "u1", ["type"] = "page_view", ["occurredAt"] = "2026-11-22T11:00:00Z", ["properties"] = properties,
    }, Now).Reason;

    static JsonNode Nested(int depth) => depth == 1 ? new JsonObject { ["x"] = 1 } : new JsonObject { ["x"] = Nested(depth - 1) };

    [Fact]
    public void Event_property_caps()
    {
        JsonObject Keys(int n) => new(Enumerable.Range(0, n).Select(i => KeyValuePair.Create<string, JsonNode?>($"k{i}", i)));
        Assert.Null(EventReason(Keys(ValidateEvents.MaxProperties)));
        Assert.NotNull(EventReason(Keys(ValidateEvents.MaxProperties + 1)));
        Assert.Null(EventReason(new JsonObject { ["a"] = new JsonArray([.. Enumerable.Range(0, ValidateEvents.MaxProperties).Select(i => (JsonNode?)i)]) }));
        Assert.NotNull(EventReason(new JsonObject { ["a"] = new JsonArray([.. Enumerable.Range(0, ValidateEvents.MaxProperties + 1).Select(i => (JsonNode?)i)]) }));
        Assert.Null(EventReason(new JsonObject { [new string('k', ValidateEvents.MaxPropertyKeyLength)] = 1 }));
        Assert.NotNull(EventReason(new JsonObject { [new string('k', ValidateEvents.MaxPropertyKeyLength + 1)] = 1 }));
        Assert.Null(EventReason(new JsonObject { ["v"] = new string('x', ValidateEvents.MaxPropertyValueLength) }));
        Assert.NotNull(EventReason(new JsonObject { ["v"] = new string('x', ValidateEvents.MaxPropertyValueLength + 1) }));
        Assert.Null(EventReason(Nested(ValidateEvents.MaxPropertyDepth)));
        Assert.NotNull(EventReason(Nested(ValidateEvents.MaxPropertyDepth + 1)));
    }

    [Fact]
    public void Search_query_raw_cap_is_checked_before_normalising()
    {
        var padded = new string(' ', SearchQuery.MaxRawLength - 2) + "腾讯";
        Assert.Equal("腾讯", SearchQuery.Parse(padded, null, null).Text);
        var problem = Assert.Throws<ApiProblemException>(() => SearchQuery.Parse(" " + padded, null, null)).Problem;
        Assert.Equal(["q"], problem.Errors!.Keys);
    }
}
