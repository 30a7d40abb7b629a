using NpgsqlTypes;

namespace Cdp.Shared.Identity;

public sealed partial class IdentityResolver
{
    private sealed partial class Run
    {
        public async Task<ResolutionOutcome> ResolveContact(ReviewDecision? decision)
        {
            Guid? accountId = null;
            if (clean.CompanyFullName is not null)
            {
                switch (await ResolveAccount(bySourceRecord: false, nameIsAuthoritative: false, decision))
                {
                    case AccountAmbiguous ambiguous:
                        return SendToReview("contact", ambiguous.Candidates);
                    case AccountFound found:
                        accountId = found.AccountId;
                        break;
                }
            }

            var (contactId, created) = await FindOrCreateContact(accountId, bySourceRecord: true);

            ContactIdentity("source_record", r.SourceId, contactId);
            ContactIdentity("wecom_external_user", r.WeComExternalUserId, contactId);
            ContactIdentity("wechat_openid", r.OpenId, contactId);
            ContactIdentity("wechat_unionid", r.UnionId, contactId);

            if (accountId is { } linked)
            {
                Link(contactId, linked);
            }

            return new ResolutionOutcome(ResolutionOutcome.Processed, "contact", contactId, accountId, null, created);
        }

        /// <summary>
        /// A person someone already holds (a lead being converted): the account of its company (or the one the caller
        /// picked) and the contact, with the contact and account rules but without the source-record rules, the
        /// receipt or the review queue. Channel identities are the caller's to record.
        /// </summary>
        public async Task<PersonResolution> ResolvePerson(Guid? pickedAccountId)
        {
            Guid? accountId = null;
            var accountCreated = false;
            if (pickedAccountId is not null || clean.CompanyFullName is not null)
            {
                var pick = pickedAccountId is { } picked ? new ReviewDecision.Merge(picked) : null;
                switch (await ResolveAccount(bySourceRecord: false, nameIsAuthoritative: false, pick))
                {
                    case AccountAmbiguous ambiguous:
                        return new PersonResolution.Ambiguous(ambiguous.Candidates);
                    case AccountFound found:
                        (accountId, accountCreated) = (found.AccountId, found.Created);
                        break;
                }
            }

            var (contactId, created) = await FindOrCreateContact(accountId, bySourceRecord: false);
            if (accountId is { } linked)
            {
                Link(contactId, linked);
            }

            await Flush();
            return new PersonResolution.Resolved(contactId, created, accountId, accountCreated);
        }

        private async Task<(Guid ContactId, bool Created)> FindOrCreateContact(Guid? accountId, bool bySourceRecord)
        {
            var contactId = bySourceRecord && known is not null && known.TryPerson(out var prefetched)
                ? prefetched
                : (await Query<Matching.PersonMatch>(Matching.Contacts, Matching.ContactArgs([(0, clean)], bySourceRecord))).Single().Id;

            var incoming = new Dictionary<string, string?>
            {
                ["contact_name"] = r.Name, ["mobile_phone"] = r.Mobile, ["email"] = r.Email, ["wechat_id"] = r.UnionId,
                ["wecom_external_user_id"] = r.WeComExternalUserId, ["title"] = r.Title, ["city"] = r.City,
                ["phone"] = r.Phone, ["phone_type"] = clean.PhoneType,
            };

            var created = contactId is null;
            if (contactId is { } existing)
            {
                await MergeRow(ContactUpdate, "contact", "contact_id", existing, incoming, ["mobile_phone", "email", "wecom_external_user_id"]);
            }
            else
            {
                contactId = NewId();
                Write(ContactInsert, InsertParameters(contactId.Value, incoming, new { accountId }));
            }

            return (contactId.Value, created);
        }

        private void Link(Guid contactId, Guid accountId)
        {
            Write(ContactLink, contactId, accountId);
            Write(Relation, accountId, contactId, r.Title);
        }

        static readonly RowWrite ContactInsert = new(WriteRank.ContactInsert, """
            insert into contact (contact_id, contact_name, mobile_phone, email, wechat_id, wecom_external_user_id,
                                 title, city, phone, phone_type, primary_account_id, shard_id, field_times, field_sources)
            select id, contact_name, mobile_phone, email, wechat_id, wecom_external_user_id,
                   title, city, phone, phone_type, account_id, shard, field_times::jsonb, field_sources::jsonb
            from unnest(@id, @contact_name, @mobile_phone, @email, @wechat_id, @wecom_external_user_id, @title, @city, @phone,
                        @phone_type, @accountId, @shard, @fieldTimes, @fieldSources)
                 as w(id, contact_name, mobile_phone, email, wechat_id, wecom_external_user_id, title, city, phone,
                      phone_type, account_id, shard, field_times, field_sources)
            """, InsertColumns(ContactColumns, ("accountId", NpgsqlDbType.Uuid)));

        static readonly RowWrite ContactUpdate = UpdateOf(WriteRank.ContactUpdate, "contact", "contact_id", ContactColumns);

        static readonly RowWrite ContactLink = new(WriteRank.ContactLink, """
            update contact c set primary_account_id = w.account_id, updated_at = now()
            from unnest(@contact_id, @account_id) as w(contact_id, account_id)
            where c.contact_id = w.contact_id and c.primary_account_id is null
            """, ("contact_id", NpgsqlDbType.Uuid), ("account_id", NpgsqlDbType.Uuid));

        static readonly RowWrite Relation = new(WriteRank.Relation, """
            insert into account_contact_relation (account_id, contact_id, role_in_account)
            select account_id, contact_id, title from unnest(@account_id, @contact_id, @title) as w(account_id, contact_id, title)
            on conflict (account_id, contact_id) do nothing
            """, ("account_id", NpgsqlDbType.Uuid), ("contact_id", NpgsqlDbType.Uuid), ("title", NpgsqlDbType.Text));

        static readonly RowWrite ContactIdentityWrite = new(WriteRank.ContactIdentity, """
            insert into contact_channel_identity (contact_id, channel_id, channel_user_id, identity_type, first_seen_at, last_seen_at)
            select contact_id, channel, value, type, at, at
            from unnest(@contact_id, @channel, @value, @type, @at) as w(contact_id, channel, value, type, at)
            on conflict (channel_id, identity_type, channel_user_id) do update
            set first_seen_at = least(contact_channel_identity.first_seen_at, excluded.first_seen_at),
                last_seen_at = greatest(contact_channel_identity.last_seen_at, excluded.last_seen_at)
            where contact_channel_identity.contact_id = excluded.contact_id
            """, ("contact_id", NpgsqlDbType.Uuid), ("channel", NpgsqlDbType.Text), ("value", NpgsqlDbType.Text), ("type", NpgsqlDbType.Text),
            ("at", NpgsqlDbType.TimestampTz));

        // An identity already pointing at another entity stays there: we never move a key between entities.
        private void ContactIdentity(string type, string? value, Guid contactId)
        {
            if (value is null)
            {
                return;
            }

            Write(ContactIdentityWrite, contactId, r.Channel, value, type, at);
        }
    }
}
