using NpgsqlTypes;

namespace Cdp.Shared.Identity;

public sealed partial class IdentityResolver
{
    private sealed partial class Run
    {
        public async Task<ResolutionOutcome> ResolveLead()
        {
            var leadId = known is not null && known.TryPerson(out var prefetched)
                ? prefetched
                : (await Query<Matching.PersonMatch>(Matching.Leads, Matching.LeadArgs([(0, clean)]))).Single().Id;

            var incoming = new Dictionary<string, string?>
            {
                ["lead_name"] = r.Name, ["company_name"] = r.Company, ["mobile_phone"] = r.Mobile, ["email"] = r.Email,
                ["title"] = r.Title, ["city"] = r.City, ["campaign_id"] = r.CampaignId, ["lead_source"] = r.LeadSource,
                ["phone"] = r.Phone, ["phone_type"] = clean.PhoneType,
            };

            var created = leadId is null;
            if (leadId is { } existing)
            {
                await MergeRow(LeadUpdate, "lead", "lead_id", existing, incoming, uniqueFields: []);
            }
            else
            {
                leadId = NewId();
                Write(LeadInsert, InsertParameters(leadId.Value, incoming, new { channel = r.Channel }));
            }

            LeadIdentity("source_record", r.SourceId, leadId.Value);
            LeadIdentity("wechat_unionid", r.UnionId, leadId.Value);
            LeadIdentity("wechat_openid", r.OpenId, leadId.Value);
            LeadIdentity("wecom_external_user", r.WeComExternalUserId, leadId.Value);
            return new ResolutionOutcome(ResolutionOutcome.Processed, "lead", leadId, null, null, created);
        }

        // First touch keeps its campaign; later sightings only move last_seen_at (and fill a missing utm).
        private void LeadIdentity(string type, string? value, Guid leadId)
        {
            if (value is null)
            {
                return;
            }

            Write(LeadIdentityWrite, leadId, r.Channel, value, type, at, r.UtmSource, r.UtmCampaign);
        }

        static readonly RowWrite LeadInsert = new(WriteRank.LeadInsert, """
            insert into lead (lead_id, lead_name, company_name, mobile_phone, email, title, city, channel_id,
                              campaign_id, lead_source, phone, phone_type, lead_status, shard_id, field_times, field_sources)
            select id, lead_name, company_name, mobile_phone, email, title, city, channel,
                   campaign_id, lead_source, phone, phone_type, 'new', shard, field_times::jsonb, field_sources::jsonb
            from unnest(@id, @lead_name, @company_name, @mobile_phone, @email, @title, @city, @campaign_id, @lead_source, @phone,
                        @phone_type, @channel, @shard, @fieldTimes, @fieldSources)
                 as w(id, lead_name, company_name, mobile_phone, email, title, city, campaign_id, lead_source, phone,
                      phone_type, channel, shard, field_times, field_sources)
            """, InsertColumns(LeadColumns, ("channel", NpgsqlDbType.Text)));

        static readonly RowWrite LeadUpdate = UpdateOf(WriteRank.LeadUpdate, "lead", "lead_id", LeadColumns);

        static readonly RowWrite LeadIdentityWrite = new(WriteRank.LeadIdentity, """
            insert into lead_channel_identity (lead_id, channel_id, channel_user_id, identity_type, captured_at,
                                               last_seen_at, utm_source, utm_campaign)
            select lead_id, channel, value, type, at, at, utm_source, utm_campaign
            from unnest(@lead_id, @channel, @value, @type, @at, @utm_source, @utm_campaign)
                 as w(lead_id, channel, value, type, at, utm_source, utm_campaign)
            on conflict (channel_id, identity_type, channel_user_id) do update
            set captured_at = least(lead_channel_identity.captured_at, excluded.captured_at),
                last_seen_at = greatest(lead_channel_identity.last_seen_at, excluded.last_seen_at),
                utm_source = coalesce(lead_channel_identity.utm_source, excluded.utm_source),
                utm_campaign = coalesce(lead_channel_identity.utm_campaign, excluded.utm_campaign)
            where lead_channel_identity.lead_id = excluded.lead_id
            """, ("lead_id", NpgsqlDbType.Uuid), ("channel", NpgsqlDbType.Text), ("value", NpgsqlDbType.Text), ("type", NpgsqlDbType.Text),
            ("at", NpgsqlDbType.TimestampTz), ("utm_source", NpgsqlDbType.Text), ("utm_campaign", NpgsqlDbType.Text));
    }
}
