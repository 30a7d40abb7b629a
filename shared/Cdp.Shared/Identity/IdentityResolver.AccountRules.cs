using Cdp.Shared.Cleansing;
using NpgsqlTypes;

namespace Cdp.Shared.Identity;

public sealed partial class IdentityResolver
{
    /// <summary>A row of the combined account lookup: the rule that matched, and the account.</summary>
    private sealed class AccountMatch
    {
        /// <summary>The record's position in the list matched (<see cref="Matching.Accounts"/>).</summary>
        public int I { get; set; }
        public int Rule { get; set; }
        public Guid AccountId { get; set; }
        public string Name { get; set; } = "";
        public string? City { get; set; }
        public string? CreditCode { get; set; }
    }

    private abstract record AccountStep;

    private sealed record AccountFound(Guid AccountId, bool Created) : AccountStep;

    private sealed record AccountAmbiguous(IReadOnlyList<AccountCandidate> Candidates) : AccountStep;

    private sealed partial class Run
    {
        public async Task<ResolutionOutcome> ResolveAccountRecord(ReviewDecision? decision)
        {
            switch (await ResolveAccount(bySourceRecord: true, nameIsAuthoritative: true, decision))
            {
                case AccountAmbiguous ambiguous:
                    return SendToReview("account", ambiguous.Candidates);
                case AccountFound found:
                    Write(AccountIdentity, found.AccountId, r.Channel, r.SourceId, at);
                    return new ResolutionOutcome(ResolutionOutcome.Processed, "account", found.AccountId, found.AccountId, null, found.Created);
                default:
                    throw new InvalidOperationException("Unknown account step.");
            }
        }

        /// <summary>
        /// Account rules, first match wins: review decision; the same source record; credit code; exact
        /// normalised name; fuzzy short name in the same city. Several candidates on a rule go to review, and so
        /// does a match on an unverified credit code alone (its check character fails: it may be a typo).
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
                    // A reviewer keeping apart two accounts with one unverified code: the code stays with the first.
                    if (r.CreditCode is { } code
                        && await FirstId("select account_id from account where unified_social_credit_code = @code", new { code }) is not null)
                    {
                        return new AccountFound(CreateAccount(keepCode: false), true);
                    }

                    return new AccountFound(CreateAccount(), true);
            }

            var matches = known is not null && known.TryAccounts(out var prefetched)
                ? prefetched
                : await Query<AccountMatch>(Matching.Accounts, Matching.AccountArgs([(0, clean, bySourceRecord)]));
            if (matches.FirstOrDefault(m => m.Rule < 3) is { } strong)
            {
                if (strong.Rule == 2 && clean.CreditCodeUnverified)
                {
                    return new AccountAmbiguous([new AccountCandidate(strong.AccountId, strong.Name, strong.City, strong.CreditCode, 1.0)]);
                }

                await MergeAccount(strong.AccountId, nameIsAuthoritative: true);
                return new AccountFound(strong.AccountId, false);
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
                // A batch read it up front, its city locked then; the accounts the wave created or changed there since
                // are compared again by id (no index scan), the others' answers still hold.
                if (known is null || !known.TryFuzzy(r.City, out var fuzzy, out var changed))
                {
                    Lock([IdentityKeys.City(r.City)]);
                    Perform(Matching.SimilaritySql, Matching.SimilarityArgs(threshold));
                    fuzzy = [.. (await Query<Matching.FuzzyMatch>(Matching.Fuzzy, Matching.FuzzyArgs([(0, clean)], threshold))).Select(m => m.ToCandidate())];
                }
                else if (changed.Count > 0)
                {
                    known.FuzzyComparedAgain();
                    var again = await Query<Matching.FuzzyMatch>(Matching.FuzzyAmong, Matching.FuzzyAmongArgs(clean, changed, threshold));
                    fuzzy = Matching.Ranked(fuzzy.Concat(again.Select(m => m.ToCandidate())));
                }

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

        private Guid CreateAccount(bool keepCode = true)
        {
            var id = NewId();
            known?.AccountChanged(id, r.City);
            var fields = AccountFields(includeName: true);
            if (!keepCode) fields["unified_social_credit_code"] = null;
            Write(AccountInsert, InsertParameters(id, fields, new
                {
                    // A code-only account: the code stands in as its name until a record brings one.
                    account_name = r.Company ?? fields["unified_social_credit_code"] ?? r.CreditCode,
                    full = clean.CompanyFullName ?? "",
                    @short = clean.CompanyShortName ?? "",
                    verified = fields["unified_social_credit_code"] is null || !clean.CreditCodeUnverified,
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
            var row = known is not null && known.TryRow(accountId, AccountColumns, out var held)
                ? (Name: held.Row["account_name"]!, Full: held.Row["name_normalized"]!, Code: held.Row["unified_social_credit_code"],
                   City: held.Row["city"], FieldTimes: held.FieldTimes)
                : await Single<(string Name, string Full, string? Code, string? City, string? FieldTimes)>(
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

            if (merged.Changed.Any(c => c is "account_name" or "unified_social_credit_code" or "city"))
            {
                known?.AccountChanged(accountId, row.City, merged.Values["city"]);
            }

            var name = merged.Values["account_name"];
            var (full, shortName) = merged.Changed.Contains("account_name") ? CompanyName.Normalize(name) : (row.Full, null);
            Write(AccountUpdate, accountId, name, full, shortName, merged.Values["unified_social_credit_code"],
                merged.Changed.Contains("unified_social_credit_code"),
                merged.Values["unified_social_credit_code"] is null || !clean.CreditCodeUnverified,
                merged.Values["city"], IdentityJson.Serialize(merged.FieldTimes));
        }

        static readonly RowWrite AccountInsert = new(WriteRank.AccountInsert, """
            insert into account (account_id, account_name, name_normalized, name_short, unified_social_credit_code,
                                 credit_code_verified, city, shard_id, field_times)
            select id, account_name, full_name, short_name, code, verified, city, shard, field_times::jsonb
            from unnest(@id, @account_name, @full, @short, @unified_social_credit_code, @verified, @city, @shard, @fieldTimes)
                 as w(id, account_name, full_name, short_name, code, verified, city, shard, field_times)
            """, ("id", NpgsqlDbType.Uuid), ("account_name", NpgsqlDbType.Text), ("full", NpgsqlDbType.Text), ("short", NpgsqlDbType.Text),
            ("unified_social_credit_code", NpgsqlDbType.Text), ("verified", NpgsqlDbType.Boolean), ("city", NpgsqlDbType.Text),
            ("shard", NpgsqlDbType.Smallint), ("fieldTimes", NpgsqlDbType.Text));

        static readonly RowWrite AccountUpdate = new(WriteRank.AccountUpdate, """
            update account a
            set account_name = coalesce(w.name, a.account_name),
                name_normalized = coalesce(w.full_name, a.name_normalized),
                name_short = coalesce(w.short_name, a.name_short),
                unified_social_credit_code = w.code, city = w.city,
                credit_code_verified = case when w.code_changed then w.verified else a.credit_code_verified end,
                field_times = w.field_times::jsonb, updated_at = now()
            from unnest(@account_id, @name, @full, @short, @code, @code_changed, @verified, @city, @field_times)
                 as w(account_id, name, full_name, short_name, code, code_changed, verified, city, field_times)
            where a.account_id = w.account_id
            """, ("account_id", NpgsqlDbType.Uuid), ("name", NpgsqlDbType.Text), ("full", NpgsqlDbType.Text), ("short", NpgsqlDbType.Text),
            ("code", NpgsqlDbType.Text), ("code_changed", NpgsqlDbType.Boolean), ("verified", NpgsqlDbType.Boolean), ("city", NpgsqlDbType.Text),
            ("field_times", NpgsqlDbType.Text));

        static readonly RowWrite AccountIdentity = new(WriteRank.AccountIdentity, """
            insert into account_channel_identity (account_id, channel_id, channel_account_id, first_seen_at, last_seen_at)
            select account_id, channel, source_id, at, at
            from unnest(@account_id, @channel, @source_id, @at) as w(account_id, channel, source_id, at)
            on conflict (channel_id, channel_account_id) do update
            set first_seen_at = least(account_channel_identity.first_seen_at, excluded.first_seen_at),
                last_seen_at = greatest(account_channel_identity.last_seen_at, excluded.last_seen_at)
            where account_channel_identity.account_id = excluded.account_id
            """, ("account_id", NpgsqlDbType.Uuid), ("channel", NpgsqlDbType.Text), ("source_id", NpgsqlDbType.Text), ("at", NpgsqlDbType.TimestampTz));

        static readonly RowWrite ReviewInsert = new(WriteRank.Review, """
            insert into identity_review (review_id, ingestion_id, entity_type, record, candidates)
            select review_id, ingestion_id, entity_type, record::jsonb, candidates::jsonb
            from unnest(@review_id, @ingestion_id, @entity_type, @record, @candidates)
                 as w(review_id, ingestion_id, entity_type, record, candidates)
            """, ("review_id", NpgsqlDbType.Uuid), ("ingestion_id", NpgsqlDbType.Uuid), ("entity_type", NpgsqlDbType.Text),
            ("record", NpgsqlDbType.Text), ("candidates", NpgsqlDbType.Text));

        // ---- review ---------------------------------------------------------------------------------------

        private ResolutionOutcome SendToReview(string entityType, IReadOnlyList<AccountCandidate> candidates)
        {
            var reviewId = NewId();
            Write(ReviewInsert, reviewId, ingestionId, entityType, IdentityJson.Serialize(clean), IdentityJson.Serialize(candidates));
            return new ResolutionOutcome(ResolutionOutcome.Review, entityType, null, null, reviewId, false);
        }
    }
}
