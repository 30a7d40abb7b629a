using System.Globalization;
using Cdp.Shared.Cleansing;
using Cdp.Shared.Ingestion;
using Cdp.Shared.Storage;
using Cdp.Shared.Summaries;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Cdp.Shared.Identity;

/// <summary>
/// Matches a cleansed record to the lead, contact or account it is about, creating or merging, and records the
/// outcome on its ingestion receipt in the same transaction. Safe to call again for the same ingestion id
/// (at-least-once delivery) and from several hosts at once: every natural key of the record is advisory-locked
/// first, so two records of one person or company are resolved one after the other.
/// </summary>
public sealed class IdentityResolver(NpgsqlDataSource db, IOptions<IdentityOptions> options)
{
    /// <summary>Attempts per record on a unique violation or deadlock; tests set 1 to prove the locks alone suffice.</summary>
    internal int MaxAttempts { get; init; } = 3;

    public async Task<ResolutionOutcome> ResolveAsync(
        Guid ingestionId, CleanRecord record, ReviewDecision? decision, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(record);
        for (var attempt = 1; ; attempt++)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            await using var tx = await conn.BeginTransactionAsync(ct);
            try
            {
                var outcome = await ResolveAsync(conn, tx, ingestionId, record, decision, reprocessReview: false, ct);
                await tx.CommitAsync(ct);
                return outcome;
            }
            catch (PostgresException e) when (attempt < MaxAttempts && IsRetryable(e))
            {
                // A writer outside identity resolution (no advisory locks) took a unique value first, or a
                // deadlock was broken: the transaction rolled back, so simply resolve again.
            }
        }
    }

    /// <summary>
    /// Runs inside the caller's transaction, so a review's resolution and the record's outcome commit together.
    /// <paramref name="reprocessReview"/> lets a receipt waiting in review be processed (with a decision).
    /// </summary>
    internal async Task<ResolutionOutcome> ResolveAsync(
        NpgsqlConnection conn, NpgsqlTransaction tx, Guid ingestionId, CleanRecord record, ReviewDecision? decision,
        bool reprocessReview, CancellationToken ct)
    {
        var run = new Run(conn, tx, ingestionId, record, options.Value.FuzzyThreshold, ct);

        // The row lock also serialises two deliveries of the same message.
        var receipt = await run.SingleOrDefault<ReceiptRow>("""
            select status as Status, entity_type as EntityType, entity_id as EntityId, account_id as AccountId,
                   review_id as ReviewId, entity_created as EntityCreated
            from ingestion_receipt where ingestion_id = @ingestionId for update
            """, new { ingestionId })
            ?? throw new InvalidOperationException($"Ingestion receipt {ingestionId} does not exist; ingest writes it before publishing.");
        if (receipt.Status == ResolutionOutcome.Processed || (receipt.Status == ResolutionOutcome.Review && !reprocessReview))
        {
            return receipt.ToOutcome();
        }

        run.Lock(IdentityKeys.For(record));
        var outcome = record.Record.Kind switch
        {
            EntityKind.Account => await run.ResolveAccountRecord(decision),
            EntityKind.Contact => await run.ResolveContact(decision),
            EntityKind.Lead => await run.ResolveLead(),
            _ => throw new ArgumentOutOfRangeException(nameof(record), record.Record.Kind, "Unknown record kind."),
        };

        if (outcome.Status == ResolutionOutcome.Review)
        {
            run.Execute("""
                update ingestion_receipt set status = 'review', entity_type = @EntityType, review_id = @ReviewId,
                       entity_id = null, account_id = null, entity_created = null
                where ingestion_id = @ingestionId
                """, new { outcome.EntityType, outcome.ReviewId, ingestionId });
        }
        else
        {
            run.Execute("""
                update ingestion_receipt set status = 'processed', processed_at = now(), entity_type = @EntityType,
                       entity_id = @EntityId, account_id = @AccountId, entity_created = @Created
                where ingestion_id = @ingestionId
                """, new { outcome.EntityType, outcome.EntityId, outcome.AccountId, outcome.Created, ingestionId });
            // The entity is new or changed: its summary follows (a contact's in turn re-queues its accounts').
            run.Enqueue(SummaryRecalculation.Publish(outcome.EntityType, outcome.EntityId!.Value, outcome.Created ? "created" : "updated"));
        }

        // The entity writes of the rules are still queued: they go out together with the receipt update.
        await run.Flush();
        return outcome;
    }

    /// <summary>
    /// Finds or creates the contact <paramref name="person"/> (a contact record) describes, and the account of its
    /// company, inside the caller's transaction, with the same contact and account rules and the same advisory locks
    /// as ingestion; the contact is linked to the account. For callers that hold the person already (lead conversion):
    /// the source-record rules do not apply, no channel identity is recorded (the caller knows which identities the
    /// person has), and nothing goes to the review queue — an ambiguous company comes back as its candidates, with
    /// nothing written. <paramref name="accountId"/> picks the account instead of the account rules
    /// (<see cref="ReviewTargetNotFoundException"/> when it does not exist).
    /// </summary>
    public async Task<PersonResolution> FindOrCreatePersonAsync(
        NpgsqlConnection conn, NpgsqlTransaction tx, CleanRecord person, Guid? accountId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(person);
        if (person.Record.Kind != EntityKind.Contact)
        {
            throw new ArgumentException("A person is resolved as a contact record.", nameof(person));
        }

        var run = new Run(conn, tx, Guid.Empty, person, options.Value.FuzzyThreshold, ct);
        run.Lock(IdentityKeys.For(person));
        return await run.ResolvePerson(accountId);
    }

    /// <summary>Unique violations and deadlocks: the transaction rolled back and may simply run again.</summary>
    public static bool IsRetryable(PostgresException e) =>
        e.SqlState is PostgresErrorCodes.UniqueViolation or PostgresErrorCodes.DeadlockDetected
            or PostgresErrorCodes.SerializationFailure;

    private sealed class ReceiptRow
    {
        public string Status { get; set; } = "";
        public string? EntityType { get; set; }
        public Guid? EntityId { get; set; }
        public Guid? AccountId { get; set; }
        public Guid? ReviewId { get; set; }
        public bool? EntityCreated { get; set; }

        public ResolutionOutcome ToOutcome() =>
            new(Status, EntityType ?? "", EntityId, AccountId, ReviewId, EntityCreated ?? false);
    }

    private sealed class EntityRow
    {
        public Guid Id { get; set; }
        public string? FieldTimes { get; set; }
    }

    /// <summary>A row of the combined account lookup: the rule that matched, and the account.</summary>
    private sealed class AccountMatch
    {
        public int Rule { get; set; }
        public Guid AccountId { get; set; }
        public string Name { get; set; } = "";
        public string? City { get; set; }
        public string? CreditCode { get; set; }
    }

    private abstract record AccountStep;

    private sealed record AccountFound(Guid AccountId, bool Created) : AccountStep;

    private sealed record AccountAmbiguous(IReadOnlyList<AccountCandidate> Candidates) : AccountStep;

    /// <summary>One resolution: the transaction, the record, and the SQL of each rule.</summary>
    private sealed class Run(
        NpgsqlConnection conn, NpgsqlTransaction tx, Guid ingestionId, CleanRecord clean, double threshold, CancellationToken ct)
    {
        private readonly CustomerRecord r = clean.Record;
        private readonly DateTime at = clean.Record.ModifiedAt.UtcDateTime;
        private readonly DateTimeOffset atOffset = clean.Record.ModifiedAt.ToUniversalTime();

        // ---- leads ----------------------------------------------------------------------------------------

        public async Task<ResolutionOutcome> ResolveLead()
        {
            // Every lead rule in one statement: each branch is one rule (a null value matches nothing), and the
            // lowest rule that matched wins, exactly as if they were asked one after another.
            var leadId = await FirstId("""
                select lead_id from (
                    (select 1 as rule, lead_id from lead_channel_identity
                     where channel_id = @Channel and identity_type = 'source_record' and channel_user_id = @SourceId limit 1)
                    union all
                    (select 2, lead_id from lead where mobile_phone = @Mobile order by created_at, lead_id limit 1)
                    union all
                    (select 3, lead_id from lead where email = @Email order by created_at, lead_id limit 1)
                    union all
                    (select 4, lead_id from lead_channel_identity where identity_type = 'wechat_unionid' and channel_user_id = @UnionId
                     order by captured_at, identity_id limit 1)
                    union all
                    (select 5, lead_id from lead_channel_identity where identity_type = 'wechat_openid' and channel_user_id = @OpenId
                     order by captured_at, identity_id limit 1)
                    union all
                    (select 6, lead_id from lead_channel_identity where identity_type = 'wecom_external_user' and channel_user_id = @WeComExternalUserId
                     order by captured_at, identity_id limit 1)
                ) as matched
                order by rule limit 1
                """, new { r.Channel, r.SourceId, r.Mobile, r.Email, r.UnionId, r.OpenId, r.WeComExternalUserId });

            var incoming = new Dictionary<string, string?>
            {
                ["lead_name"] = r.Name, ["company_name"] = r.Company, ["mobile_phone"] = r.Mobile, ["email"] = r.Email,
                ["title"] = r.Title, ["city"] = r.City, ["campaign_id"] = r.CampaignId, ["lead_source"] = r.LeadSource,
            };

            var created = leadId is null;
            if (leadId is { } existing)
            {
                await MergeRow("lead", "lead_id", existing, incoming, uniqueFields: []);
            }
            else
            {
                leadId = Guid.CreateVersion7();
                Execute("""
                    insert into lead (lead_id, lead_name, company_name, mobile_phone, email, title, city, channel_id,
                                      campaign_id, lead_source, lead_status, shard_id, field_times)
                    values (@id, @lead_name, @company_name, @mobile_phone, @email, @title, @city, @channel,
                            @campaign_id, @lead_source, 'new', @shard, @fieldTimes::jsonb)
                    """, InsertParameters(leadId.Value, incoming, new { channel = r.Channel }));
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

            Execute("""
                insert into lead_channel_identity (lead_id, channel_id, channel_user_id, identity_type, captured_at,
                                                   last_seen_at, utm_source, utm_campaign)
                values (@leadId, @channel, @value, @type, @at, @at, @utmSource, @utmCampaign)
                on conflict (channel_id, identity_type, channel_user_id) do update
                set captured_at = least(lead_channel_identity.captured_at, excluded.captured_at),
                    last_seen_at = greatest(lead_channel_identity.last_seen_at, excluded.last_seen_at),
                    utm_source = coalesce(lead_channel_identity.utm_source, excluded.utm_source),
                    utm_campaign = coalesce(lead_channel_identity.utm_campaign, excluded.utm_campaign)
                where lead_channel_identity.lead_id = excluded.lead_id
                """, new { leadId, channel = r.Channel, value, type, at, utmSource = r.UtmSource, utmCampaign = r.UtmCampaign });
        }

        // ---- contacts -------------------------------------------------------------------------------------

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
            // Every contact rule in one statement: each branch is one rule (a null value matches nothing), and the
            // lowest rule that matched wins, exactly as if they were asked one after another.
            var contactId = await FirstId("""
                select contact_id from (
                    select 1 as rule, contact_id from contact_channel_identity
                    where channel_id = @Channel and identity_type = 'source_record' and channel_user_id = @SourceId
                    union all
                    select 2, contact_id from contact where mobile_phone = @Mobile
                    union all
                    select 3, contact_id from contact where email = @Email
                    union all
                    select 4, contact_id from contact where wecom_external_user_id = @WeComExternalUserId
                ) as matched
                order by rule limit 1
                """, new { r.Channel, SourceId = bySourceRecord ? r.SourceId : null, r.Mobile, r.Email, r.WeComExternalUserId });

            var incoming = new Dictionary<string, string?>
            {
                ["contact_name"] = r.Name, ["mobile_phone"] = r.Mobile, ["email"] = r.Email, ["wechat_id"] = r.UnionId,
                ["wecom_external_user_id"] = r.WeComExternalUserId, ["title"] = r.Title, ["city"] = r.City,
                ["phone"] = r.Phone,
            };

            var created = contactId is null;
            if (contactId is { } existing)
            {
                await MergeRow("contact", "contact_id", existing, incoming, ["mobile_phone", "email", "wecom_external_user_id"]);
            }
            else
            {
                contactId = Guid.CreateVersion7();
                Execute("""
                    insert into contact (contact_id, contact_name, mobile_phone, email, wechat_id, wecom_external_user_id,
                                         title, city, phone, primary_account_id, shard_id, field_times)
                    values (@id, @contact_name, @mobile_phone, @email, @wechat_id, @wecom_external_user_id,
                            @title, @city, @phone, @accountId, @shard, @fieldTimes::jsonb)
                    """, InsertParameters(contactId.Value, incoming, new { accountId }));
            }

            return (contactId.Value, created);
        }

        private void Link(Guid contactId, Guid accountId)
        {
            Execute("""
                update contact set primary_account_id = @accountId, updated_at = now()
                where contact_id = @contactId and primary_account_id is null
                """, new { accountId, contactId });
            Execute("""
                insert into account_contact_relation (account_id, contact_id, role_in_account)
                values (@accountId, @contactId, @title)
                on conflict (account_id, contact_id) do nothing
                """, new { accountId, contactId, title = r.Title });
        }

        // An identity already pointing at another entity stays there: we never move a key between entities.
        private void ContactIdentity(string type, string? value, Guid contactId)
        {
            if (value is null)
            {
                return;
            }

            Execute("""
                insert into contact_channel_identity (contact_id, channel_id, channel_user_id, identity_type, first_seen_at, last_seen_at)
                values (@contactId, @channel, @value, @type, @at, @at)
                on conflict (channel_id, identity_type, channel_user_id) do update
                set first_seen_at = least(contact_channel_identity.first_seen_at, excluded.first_seen_at),
                    last_seen_at = greatest(contact_channel_identity.last_seen_at, excluded.last_seen_at)
                where contact_channel_identity.contact_id = excluded.contact_id
                """, new { contactId, channel = r.Channel, value, type, at });
        }

        // ---- accounts -------------------------------------------------------------------------------------

        public async Task<ResolutionOutcome> ResolveAccountRecord(ReviewDecision? decision)
        {
            switch (await ResolveAccount(bySourceRecord: true, nameIsAuthoritative: true, decision))
            {
                case AccountAmbiguous ambiguous:
                    return SendToReview("account", ambiguous.Candidates);
                case AccountFound found:
                    Execute("""
                        insert into account_channel_identity (account_id, channel_id, channel_account_id, first_seen_at, last_seen_at)
                        values (@AccountId, @channel, @sourceId, @at, @at)
                        on conflict (channel_id, channel_account_id) do update
                        set first_seen_at = least(account_channel_identity.first_seen_at, excluded.first_seen_at),
                            last_seen_at = greatest(account_channel_identity.last_seen_at, excluded.last_seen_at)
                        where account_channel_identity.account_id = excluded.account_id
                        """, new { found.AccountId, channel = r.Channel, sourceId = r.SourceId, at });
                    return new ResolutionOutcome(ResolutionOutcome.Processed, "account", found.AccountId, found.AccountId, null, found.Created);
                default:
                    throw new InvalidOperationException("Unknown account step.");
            }
        }

        /// <summary>
        /// Account rules, first match wins: review decision; the same source record; credit code; exact
        /// normalised name; fuzzy short name in the same city. Several candidates on a rule go to review.
        /// </summary>
        /// <param name="nameIsAuthoritative">
        /// The record speaks for the account itself (an account record from CRM/ERP), so its name may replace
        /// the held one. A contact's company text only fills a missing name: "腾迅" typed on a business card
        /// must not rename 上海腾讯科技有限公司.
        /// </param>
        private async Task<AccountStep> ResolveAccount(bool bySourceRecord, bool nameIsAuthoritative, ReviewDecision? decision)
        {
            switch (decision)
            {
                case ReviewDecision.Merge merge:
                    if (await FirstId("select account_id from account where account_id = @TargetAccountId", new { merge.TargetAccountId }) is null)
                    {
                        throw new ReviewTargetNotFoundException(merge.TargetAccountId);
                    }

                    await MergeAccount(merge.TargetAccountId, nameIsAuthoritative);
                    return new AccountFound(merge.TargetAccountId, false);
                case ReviewDecision.Create:
                    return new AccountFound(CreateAccount(), true);
            }

            // The source record (rule 1), credit code (rule 2) and exact name (rule 3) rules in one statement. A null
            // value matches nothing; the name rows only count when neither stronger rule matched.
            var matches = await Query<AccountMatch>("""
                select m.rule as Rule, a.account_id as AccountId, a.account_name as Name, a.city as City,
                       a.unified_social_credit_code as CreditCode
                from (
                    (select 1 as rule, 0::bigint as n, account_id from account_channel_identity
                     where @bySourceRecord and channel_id = @Channel and channel_account_id = @SourceId limit 1)
                    union all
                    (select 2, 0, account_id from account where unified_social_credit_code = @code)
                    union all
                    -- A different credit code is a different legal entity, whatever the name says.
                    (select 3, row_number() over (order by created_at, account_id), account_id from account
                     where name_normalized = @full and (@code::text is null or unified_social_credit_code is null)
                     order by created_at, account_id limit 20)
                ) as m
                join account a on a.account_id = m.account_id
                order by m.rule, m.n
                """, new { bySourceRecord, r.Channel, r.SourceId, code = r.CreditCode, full = clean.CompanyFullName });
            if (matches.FirstOrDefault(m => m.Rule < 3) is { } known)
            {
                await MergeAccount(known.AccountId, nameIsAuthoritative: true);
                return new AccountFound(known.AccountId, false);
            }

            var exact = matches.Select(m => new AccountCandidate(m.AccountId, m.Name, m.City, m.CreditCode, 1.0)).ToList();
            if (await Decide(exact, nameIsAuthoritative) is { } exactStep)
            {
                return exactStep;
            }

            if (clean.CompanyShortName is not null && r.City is not null)
            {
                // Creations in one city queue here, so two spellings of one new company arriving together do
                // not both miss the fuzzy rule. Taken last and only here, so it cannot close a lock cycle.
                Lock([IdentityKeys.City(r.City)]);
                Perform("select set_config('pg_trgm.similarity_threshold', @t, true)",
                    new { t = threshold.ToString(CultureInfo.InvariantCulture) });
                var fuzzy = await Query<AccountCandidate>("""
                    select account_id as AccountId, account_name as Name, city as City,
                           unified_social_credit_code as CreditCode, similarity(name_short, @short)::float8 as Similarity
                    from account
                    where city = @city and name_short % @short and similarity(name_short, @short) >= @threshold
                      and (@code::text is null or unified_social_credit_code is null)
                    order by Similarity desc, account_id limit 20
                    """, new { @short = clean.CompanyShortName, city = r.City, threshold, code = r.CreditCode });
                if (await Decide(fuzzy, nameIsAuthoritative: false) is { } step)
                {
                    return step;
                }
            }

            return new AccountFound(CreateAccount(), true);
        }

        private async Task<AccountStep?> Decide(IReadOnlyList<AccountCandidate> candidates, bool nameIsAuthoritative)
        {
            switch (candidates.Count)
            {
                case 0:
                    return null;
                case 1:
                    await MergeAccount(candidates[0].AccountId, nameIsAuthoritative);
                    return new AccountFound(candidates[0].AccountId, false);
                default:
                    return new AccountAmbiguous(candidates);
            }
        }

        private Guid CreateAccount()
        {
            var id = Guid.CreateVersion7();
            var fields = AccountFields(includeName: true);
            Execute("""
                insert into account (account_id, account_name, name_normalized, name_short, unified_social_credit_code,
                                     city, shard_id, field_times)
                values (@id, @account_name, @full, @short, @unified_social_credit_code, @city, @shard, @fieldTimes::jsonb)
                """, InsertParameters(id, fields, new
                {
                    // A code-only account: the code stands in as its name until a record brings one.
                    account_name = r.Company ?? r.CreditCode,
                    full = clean.CompanyFullName ?? "",
                    @short = clean.CompanyShortName ?? "",
                }));
            return id;
        }

        private Dictionary<string, string?> AccountFields(bool includeName) => new()
        {
            ["account_name"] = includeName ? r.Company : null,
            ["unified_social_credit_code"] = r.CreditCode,
            ["city"] = r.City,
        };

        private async Task MergeAccount(Guid accountId, bool nameIsAuthoritative)
        {
            var row = await Single<(string Name, string Full, string? Code, string? City, string? FieldTimes)>(
                """
                select account_name, name_normalized, unified_social_credit_code, city, field_times::text
                from account where account_id = @accountId for update
                """, new { accountId });
            var current = new Dictionary<string, string?>
            {
                // A code-only account has no name yet, whatever stands in for it.
                ["account_name"] = row.Full.Length == 0 ? null : row.Name,
                ["unified_social_credit_code"] = row.Code,
                ["city"] = row.City,
            };
            var incoming = AccountFields(includeName: nameIsAuthoritative || current["account_name"] is null);
            await DropTaken(incoming, current, "account", "account_id", accountId, ["unified_social_credit_code"]);
            var merged = FieldMerge.Merge(current, IdentityJson.FieldTimes(row.FieldTimes), incoming, atOffset);
            if (!merged.HasChanges)
            {
                return;
            }

            var name = merged.Values["account_name"];
            var (full, shortName) = merged.Changed.Contains("account_name") ? CompanyName.Normalize(name) : (row.Full, null);
            Execute("""
                update account
                set account_name = coalesce(@name, account_name),
                    name_normalized = coalesce(@full, name_normalized),
                    name_short = coalesce(@short, name_short),
                    unified_social_credit_code = @code, city = @city,
                    field_times = @fieldTimes::jsonb, updated_at = now()
                where account_id = @accountId
                """, new
                {
                    name, full, @short = shortName, code = merged.Values["unified_social_credit_code"],
                    city = merged.Values["city"], fieldTimes = IdentityJson.Serialize(merged.FieldTimes), accountId,
                });
        }

        // ---- review ---------------------------------------------------------------------------------------

        private ResolutionOutcome SendToReview(string entityType, IReadOnlyList<AccountCandidate> candidates)
        {
            var reviewId = Guid.CreateVersion7();
            Execute("""
                insert into identity_review (review_id, ingestion_id, entity_type, record, candidates)
                values (@reviewId, @ingestionId, @entityType, @record::jsonb, @candidates::jsonb)
                """, new
                {
                    reviewId, ingestionId, entityType,
                    record = IdentityJson.Serialize(clean), candidates = IdentityJson.Serialize(candidates),
                });
            return new ResolutionOutcome(ResolutionOutcome.Review, entityType, null, null, reviewId, false);
        }

        // ---- shared -------------------------------------------------------------------------------------

        /// <summary>Merges <paramref name="incoming"/> into a row whose columns are the dictionary keys.</summary>
        private async Task MergeRow(
            string table, string idColumn, Guid id, Dictionary<string, string?> incoming, string[] uniqueFields)
        {
            var columns = string.Join(", ", incoming.Keys);
            var (current, fieldTimes) = await Read(
                $"select {columns}, field_times::text as field_times from {table} where {idColumn} = @id for update",
                new { id },
                async reader =>
                {
                    if (!await reader.ReadAsync(ct))
                    {
                        throw new InvalidOperationException($"{table} {id} vanished while locked.");
                    }

                    var row = new Dictionary<string, string?>();
                    foreach (var column in incoming.Keys)
                    {
                        row[column] = StringOrNull(reader, column);
                    }

                    return (row, StringOrNull(reader, "field_times"));
                });

            await DropTaken(incoming, current, table, idColumn, id, uniqueFields);
            var merged = FieldMerge.Merge(current, IdentityJson.FieldTimes(fieldTimes), incoming, atOffset);
            if (!merged.HasChanges)
            {
                return;
            }

            var parameters = new Dictionary<string, object?>();
            foreach (var (column, value) in merged.Values)
            {
                parameters[column] = value;
            }

            parameters["id"] = id;
            parameters["fieldTimes"] = IdentityJson.Serialize(merged.FieldTimes);
            var sets = string.Join(", ", incoming.Keys.Select(c => $"{c} = @{c}"));
            Execute($"update {table} set {sets}, field_times = @fieldTimes::jsonb, updated_at = now() where {idColumn} = @id", parameters);
        }

        private static string? StringOrNull(NpgsqlDataReader reader, string column)
        {
            var ordinal = reader.GetOrdinal(column);
            return reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
        }

        /// <summary>
        /// A unique key (mobile, email, WeCom id, credit code) another entity already holds is left out: the record
        /// matched this entity by a stronger key, and moving the value would silently re-point the other one.
        /// </summary>
        private async Task DropTaken(
            Dictionary<string, string?> incoming, Dictionary<string, string?> current, string table, string idColumn,
            Guid id, string[] uniqueFields)
        {
            foreach (var field in uniqueFields)
            {
                if (incoming.GetValueOrDefault(field) is { } value && value != current.GetValueOrDefault(field)
                    && await FirstId($"select {idColumn} from {table} where {field} = @v and {idColumn} <> @id limit 1", new { v = value, id }) is not null)
                {
                    incoming[field] = null;
                }
            }
        }

        private Dictionary<string, object?> InsertParameters(Guid id, Dictionary<string, string?> fields, object extra)
        {
            var parameters = new Dictionary<string, object?>();
            foreach (var property in extra.GetType().GetProperties())
            {
                parameters[property.Name] = property.GetValue(extra);
            }

            foreach (var (column, value) in fields)
            {
                parameters[column] = value;
            }

            parameters["id"] = id;
            parameters["shard"] = Shard.Of(id);
            var times = fields.Where(f => !string.IsNullOrWhiteSpace(f.Value)).ToDictionary(f => f.Key, _ => atOffset);
            parameters["fieldTimes"] = IdentityJson.Serialize(times);
            return parameters;
        }

        /// <summary>Advisory locks in hash order, so two transactions wanting overlapping keys cannot deadlock.</summary>
        public void Lock(IReadOnlyList<string> keys) => Perform("""
            select pg_advisory_xact_lock(k)
            from (select distinct hashtextextended(key, 0) as k from unnest(@keys) as key order by 1) as sorted
            """, new { keys = keys.ToArray() });

        // ---- statements -----------------------------------------------------------------------------------
        // Statements whose answer the rules do not need (writes, locks, settings) are queued and sent in one round
        // trip with the next read, or with the receipt update at the end. Postgres still runs every statement in
        // the order it was issued, and an error still aborts the transaction before anything commits.

        private readonly List<NpgsqlBatchCommand> queued = [];
        private int queuedResultSets;

        /// <summary>Queues a statement that returns no rows.</summary>
        public void Execute(string sql, object param) => queued.Add(Command(sql, param));

        /// <summary>Queues a ready command that returns no rows (e.g. a topic publish).</summary>
        public void Enqueue(NpgsqlBatchCommand command) => queued.Add(command);

        /// <summary>Queues a select run for its effect (a lock, a setting); its rows are skipped.</summary>
        private void Perform(string sql, object param)
        {
            queued.Add(Command(sql, param));
            queuedResultSets++;
        }

        /// <summary>Sends what is still queued.</summary>
        public async Task Flush()
        {
            if (queued.Count > 0)
            {
                await using var batch = TakeQueued();
                await batch.ExecuteNonQueryAsync(ct);
            }
        }

        /// <summary>Runs the queued statements and then <paramref name="sql"/>, and reads the latter's rows.</summary>
        private async Task<T> Read<T>(string sql, object param, Func<NpgsqlDataReader, Task<T>> read)
        {
            var skip = queuedResultSets;
            await using var batch = TakeQueued();
            batch.BatchCommands.Add(Command(sql, param));
            await using var reader = await batch.ExecuteReaderAsync(ct);
            for (var i = 0; i < skip; i++)
            {
                await reader.NextResultAsync(ct);
            }

            return await read(reader);
        }

        private NpgsqlBatch TakeQueued()
        {
            var batch = new NpgsqlBatch(conn, tx);
            foreach (var command in queued)
            {
                batch.BatchCommands.Add(command);
            }

            queued.Clear();
            queuedResultSets = 0;
            return batch;
        }

        public Task<List<T>> Query<T>(string sql, object param) => Read(sql, param, async reader =>
        {
            var parse = reader.GetRowParser<T>();
            var rows = new List<T>();
            while (await reader.ReadAsync(ct))
            {
                rows.Add(parse(reader));
            }

            return rows;
        });

        public async Task<T?> SingleOrDefault<T>(string sql, object param) =>
            await Query<T>(sql, param) switch
            {
                [] => default,
                [var row] => row,
                _ => throw new InvalidOperationException("Sequence contains more than one element"),
            };

        private async Task<T> Single<T>(string sql, object param) =>
            (await Query<T>(sql, param)) is [var row] ? row : throw new InvalidOperationException($"Expected one row: {sql}");

        private async Task<Guid?> FirstId(string sql, object param) => (await Query<Guid?>(sql, param)).FirstOrDefault();

        /// <summary>A command whose named parameters are the properties of <paramref name="param"/> (or its entries).</summary>
        private static NpgsqlBatchCommand Command(string sql, object param)
        {
            var command = new NpgsqlBatchCommand(sql);
            var values = param is IReadOnlyDictionary<string, object?> entries
                ? entries.Select(e => (e.Key, e.Value, Type: (Type?)null))
                : param.GetType().GetProperties().Select(p => (p.Name, p.GetValue(param), Type: (Type?)p.PropertyType));
            foreach (var (name, value, type) in values)
            {
                command.Parameters.Add(value is null ? Null(name, type) : new NpgsqlParameter(name, value));
            }

            return command;
        }

        // Typed like Dapper types them; a null of unknown type is left to the server to infer from its use.
        private static NpgsqlParameter Null(string name, Type? type)
        {
            var parameter = new NpgsqlParameter { ParameterName = name, Value = DBNull.Value };
            switch (Nullable.GetUnderlyingType(type ?? typeof(object)) ?? type)
            {
                case var t when t == typeof(string):
                    parameter.NpgsqlDbType = NpgsqlDbType.Text;
                    break;
                case var t when t == typeof(Guid):
                    parameter.NpgsqlDbType = NpgsqlDbType.Uuid;
                    break;
                case var t when t == typeof(bool):
                    parameter.NpgsqlDbType = NpgsqlDbType.Boolean;
                    break;
            }

            return parameter;
        }
    }
}
