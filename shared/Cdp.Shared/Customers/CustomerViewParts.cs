using System.Text.Json;
using Cdp.Shared.Tagging;
using Dapper;

namespace Cdp.Shared.Customers;

/// <summary>A touchpoint as the views show it; <see cref="Details"/> is what the channel recorded.</summary>
public sealed record TouchpointView(
    Guid TouchpointId, string Type, string ChannelId, DateTime At, Guid? ContactId, Guid? LeadId, Guid? AccountId, JsonElement? Details);

/// <summary>Behaviour events of the last <see cref="Days"/> days, counted by type (ClickHouse).</summary>
public sealed record BehaviourCounts(int Days, IReadOnlyDictionary<string, long> CountsByType)
{
    public long Total => CountsByType.Values.Sum();
}

/// <summary>Reads the pieces every customer view has, as parts of one multi-statement round trip.</summary>
static class CustomerViewSql
{
    /// <summary>Latest touchpoints where <paramref name="filter"/> (over alias t) holds; parameters @id and @touchpoints.</summary>
    public static string Touchpoints(string filter) => $"""
        select t.touchpoint_id as TouchpointId, t.touchpoint_type as Type, t.channel_id as ChannelId, t.touchpoint_time as At,
               t.contact_id as ContactId, t.lead_id as LeadId, t.account_id as AccountId, t.details::text as Details
        from touchpoint t where {filter}
        order by t.touchpoint_time desc, t.touchpoint_id limit @touchpoints;
        """;

    public static string ComputedTags(string entityType) =>
        $"select tag as Tag, reason as Reason from computed_tag where entity_type = '{entityType}' and entity_id = @id order by tag;";

    public static async Task<List<TouchpointView>> ReadTouchpointsAsync(SqlMapper.GridReader grid) =>
        (await grid.ReadAsync<TouchpointRow>()).Select(r => r.ToView()).ToList();

    public static async Task<List<ComputedTag>> ReadComputedTagsAsync(SqlMapper.GridReader grid) =>
        (await grid.ReadAsync<TagRow>()).Select(t => new ComputedTag(t.Tag, t.Reason)).ToList();

    sealed record TouchpointRow(Guid TouchpointId, string Type, string ChannelId, DateTime At, Guid? ContactId, Guid? LeadId, Guid? AccountId, string? Details)
    {
        public TouchpointView ToView()
        {
            JsonElement? details = null;
            if (Details is not null)
            {
                using var doc = JsonDocument.Parse(Details);
                details = doc.RootElement.Clone();
            }
            return new TouchpointView(TouchpointId, Type, ChannelId, At, ContactId, LeadId, AccountId, details);
        }
    }

    sealed record TagRow(string Tag, string Reason);
}
