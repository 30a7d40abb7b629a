using System.Globalization;
using Cdp.Shared.Cleansing;
using Cdp.Shared.Ingestion;

namespace Cdp.Shared.Identity;

public sealed partial class IdentityResolver
{
    /// <summary>
    /// The match rules of leads, contacts and accounts, each one statement over a list of records (unnest), so a
    /// single record and a whole batch are matched by the same SQL. Each branch is one rule (a null value matches
    /// nothing) and the lowest rule that matched wins, exactly as if the rules were asked one after another.
    /// </summary>
    private static class Matching
    {
        /// <summary>A lead or contact match: the record's position in the list, and the entity (null: none).</summary>
        public sealed class PersonMatch
        {
            public int I { get; set; }
            public Guid? Id { get; set; }
        }

        public const string Leads = """
            select r.i as I, (
                select lead_id from (
                    (select 1 as rule, lead_id from lead_channel_identity
                     where channel_id = r.channel and identity_type = 'source_record' and channel_user_id = r.source_id limit 1)
                    union all
                    (select 2, lead_id from lead where mobile_phone = r.mobile order by created_at, lead_id limit 1)
                    union all
                    (select 3, lead_id from lead where email = r.email order by created_at, lead_id limit 1)
                    union all
                    (select 4, lead_id from lead_channel_identity where identity_type = 'wechat_unionid' and channel_user_id = r.union_id
                     order by captured_at, identity_id limit 1)
                    union all
                    (select 5, lead_id from lead_channel_identity where identity_type = 'wechat_openid' and channel_user_id = r.open_id
                     order by captured_at, identity_id limit 1)
                    union all
                    (select 6, lead_id from lead_channel_identity where identity_type = 'wecom_external_user' and channel_user_id = r.wecom
                     order by captured_at, identity_id limit 1)
                ) as matched
                order by rule limit 1) as Id
            from unnest(@i, @channel, @sourceId, @mobile, @email, @unionId, @openId, @wecom)
                 as r(i, channel, source_id, mobile, email, union_id, open_id, wecom)
            """;

        public static object LeadArgs(IReadOnlyList<(int I, CleanRecord Clean)> rows) => new
        {
            i = rows.Select(x => x.I).ToArray(),
            channel = Texts(rows, r => r.Channel),
            sourceId = Texts(rows, r => r.SourceId),
            mobile = Texts(rows, r => r.Mobile),
            email = Texts(rows, r => r.Email),
            unionId = Texts(rows, r => r.UnionId),
            openId = Texts(rows, r => r.OpenId),
            wecom = Texts(rows, r => r.WeComExternalUserId),
        };

        public const string Contacts = """
            select r.i as I, (
                select contact_id from (
                    select 1 as rule, contact_id from contact_channel_identity
                    where channel_id = r.channel and identity_type = 'source_record' and channel_user_id = r.source_id
                    union all
                    select 2, contact_id from contact where mobile_phone = r.mobile
                    union all
                    select 3, contact_id from contact where email = r.email
                    union all
                    select 4, contact_id from contact where wecom_external_user_id = r.wecom
                ) as matched
                order by rule limit 1) as Id
            from unnest(@i, @channel, @sourceId, @mobile, @email, @wecom) as r(i, channel, source_id, mobile, email, wecom)
            """;

        /// <param name="bySourceRecord">False for a person someone already holds: the source-record rule does not apply.</param>
        public static object ContactArgs(IReadOnlyList<(int I, CleanRecord Clean)> rows, bool bySourceRecord) => new
        {
            i = rows.Select(x => x.I).ToArray(),
            channel = Texts(rows, r => r.Channel),
            sourceId = Texts(rows, r => bySourceRecord ? r.SourceId : null),
            mobile = Texts(rows, r => r.Mobile),
            email = Texts(rows, r => r.Email),
            wecom = Texts(rows, r => r.WeComExternalUserId),
        };

        /// <summary>
        /// The source record (rule 1, account records only), credit code (rule 2) and exact name (rule 3) rules. The
        /// name rows only count when neither stronger rule matched; a different credit code is a different legal
        /// entity, whatever the name says.
        /// </summary>
        public const string Accounts = """
            select r.i as I, m.rule as Rule, a.account_id as AccountId, a.account_name as Name, a.city as City,
                   a.unified_social_credit_code as CreditCode
            from unnest(@i, @bySourceRecord, @channel, @sourceId, @code, @fullName)
                 as r(i, by_source_record, channel, source_id, code, full_name)
            cross join lateral (
                (select 1 as rule, 0::bigint as n, account_id from account_channel_identity
                 where r.by_source_record and channel_id = r.channel and channel_account_id = r.source_id limit 1)
                union all
                (select 2, 0, account_id from account where unified_social_credit_code = r.code)
                union all
                (select 3, row_number() over (order by created_at, account_id), account_id from account
                 where name_normalized = r.full_name and (r.code is null or unified_social_credit_code is null)
                 order by created_at, account_id limit 20)
            ) as m
            join account a on a.account_id = m.account_id
            order by r.i, m.rule, m.n
            """;

        public static object AccountArgs(IReadOnlyList<(int I, CleanRecord Clean, bool BySourceRecord)> rows) => new
        {
            i = rows.Select(x => x.I).ToArray(),
            bySourceRecord = rows.Select(x => x.BySourceRecord).ToArray(),
            channel = rows.Select(x => x.Clean.Record.Channel).ToArray(),
            sourceId = rows.Select(x => (string?)x.Clean.Record.SourceId).ToArray(),
            code = rows.Select(x => x.Clean.Record.CreditCode).ToArray(),
            fullName = rows.Select(x => x.Clean.CompanyFullName).ToArray(),
        };

        /// <summary>How many candidates <see cref="Fuzzy"/> answers at most.</summary>
        public const int FuzzyLimit = 20;

        /// <summary>
        /// The fuzzy rule: accounts of the record's city whose short name is similar (pg_trgm, at least the threshold,
        /// which <see cref="SimilaritySql"/> sets first for the <c>%</c> operator), and none holding a code when the
        /// record brings one; the <see cref="FuzzyLimit"/> most similar.
        /// </summary>

        public static readonly string Fuzzy = $"""
            select r.i as I, a.account_id as AccountId, a.account_name as Name, a.city as City,
                   a.unified_social_credit_code as CreditCode, a.similarity as Similarity
            from unnest(@i, @short, @city, @code) as r(i, short, city, code)
            cross join lateral (
                select account_id, account_name, city, unified_social_credit_code, similarity(name_short, r.short)::float8 as similarity
                from account
                where city = r.city and name_short % r.short and similarity(name_short, r.short) >= @threshold
                  and (r.code is null or unified_social_credit_code is null)
                order by similarity desc, account_id limit {FuzzyLimit}
            ) as a
            order by r.i, a.similarity desc, a.account_id
            """;

        /// <summary>
        /// <see cref="Fuzzy"/>'s test for one record, against the accounts <c>@ids</c> only (read by key, not by the
        /// trigram index): the accounts a wave created or changed after it read the fuzzy answers up front.
        /// </summary>
        public const string FuzzyAmong = """
            select 0 as I, account_id as AccountId, account_name as Name, city as City, unified_social_credit_code as CreditCode,
                   similarity(name_short, @short)::float8 as Similarity
            from account
            where account_id = any(@ids) and city = @city and similarity(name_short, @short) >= @threshold
              and (@code::text is null or unified_social_credit_code is null)
            """;

        public static object FuzzyAmongArgs(CleanRecord clean, IEnumerable<Guid> ids, double threshold) => new
        {
            ids = ids.ToArray(),
            @short = clean.CompanyShortName,
            city = clean.Record.City,
            code = clean.Record.CreditCode,
            threshold,
        };

        /// <summary>Candidates in <see cref="Fuzzy"/>'s order (most similar first, then by id as Postgres orders uuids), at most its limit.</summary>
        public static List<AccountCandidate> Ranked(IEnumerable<AccountCandidate> candidates) =>
            [.. candidates.OrderByDescending(c => c.Similarity).ThenBy(c => c.AccountId.ToString(), StringComparer.Ordinal).Take(FuzzyLimit)];

        public const string SimilaritySql = "select set_config('pg_trgm.similarity_threshold', @t, true)";

        public static object SimilarityArgs(double threshold) => new { t = threshold.ToString(CultureInfo.InvariantCulture) };

        public static object FuzzyArgs(IReadOnlyList<(int I, CleanRecord Clean)> rows, double threshold) => new
        {
            i = rows.Select(x => x.I).ToArray(),
            @short = rows.Select(x => x.Clean.CompanyShortName).ToArray(),
            city = rows.Select(x => x.Clean.Record.City).ToArray(),
            code = rows.Select(x => x.Clean.Record.CreditCode).ToArray(),
            threshold,
        };

        /// <summary>A row of <see cref="Fuzzy"/>.</summary>
        public sealed class FuzzyMatch
        {
            public int I { get; set; }
            public Guid AccountId { get; set; }
            public string Name { get; set; } = "";
            public string? City { get; set; }
            public string? CreditCode { get; set; }
            public double Similarity { get; set; }

            public AccountCandidate ToCandidate() => new(AccountId, Name, City, CreditCode, Similarity);
        }

        private static string?[] Texts(IReadOnlyList<(int I, CleanRecord Clean)> rows, Func<CustomerRecord, string?> value) =>
            [.. rows.Select(x => value(x.Clean.Record))];
    }
}
