using System.Globalization;
using Cdp.Shared.Access;
using Cdp.Shared.Cleansing;
using Dapper;
using Npgsql;

namespace Cdp.Shared.Search;

/// <summary>
/// One hit. <c>Score</c> is 1 for an exact match (key or whole name); name matches fall in bands so that the order
/// reads: exact, then prefix (0.8–0.9), then contains (0.7–0.8), then fuzzy (below 0.7, by trigram similarity).
/// The phone is masked: a result list is read over shoulders; the record's own endpoint gives the full value.
/// </summary>
public sealed record SearchMatch(
    string Type, Guid Id, string? Name, double Score, string MatchedOn, string? CompanyName, string? City, string? MaskedPhone);

public sealed record SearchResult(string Query, IReadOnlyList<SearchMatch> Matches);

/// <summary>
/// <c>GET /api/search</c>: keys (mobile, email, credit code) by equality on their unique or plain b-tree indexes;
/// names by pg_trgm on the GIN trigram indexes of account.name_short, contact.contact_name and lead.lead_name.
/// Every branch of every WHERE is one an index answers, so a search never reads a whole table.
/// </summary>
public sealed class CustomerSearch(NpgsqlDataSource db)
{
    /// <summary>
    /// For both similarity (<c>%</c>) and word similarity (<c>&lt;%</c>). Chinese names are short: one wrong character
    /// in "腾迅科技" still leaves 0.4 of "腾讯科技"'s trigrams, and a two-character query shares a third with every
    /// name starting with its first character; below 0.3 unrelated names crowd in.
    /// </summary>
    public const double NameThreshold = 0.3;

    // The contains pattern ('%ab%') of a query shorter than three characters yields no trigram, and the GIN index
    // would then have to read every entry; such queries get prefix and fuzzy matching only.
    const int MinContainsLength = 3;

    /// <param name="viewer">A scoped caller's scope (null: everything); applied in SQL, before each LIMIT.</param>
    public async Task<SearchResult> RunAsync(SearchQuery query, ScopeViewer? viewer, CancellationToken ct)
    {
        if (Build(query, viewer) is not var (sql, args)) return new SearchResult(query.Text, []);

        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        if (query.Term is SearchTerm.Name) await SetNameThresholdAsync(conn, tx, ct);
        var rows = await conn.QueryAsync<Row>(new CommandDefinition(sql, args, tx, cancellationToken: ct));
        await tx.CommitAsync(ct);
        return new SearchResult(query.Text, rows.Select(r => new SearchMatch(
            r.Type, r.Id, r.Name, r.Score, r.MatchedOn, r.CompanyName, r.City, MobileNumber.Mask(r.MobilePhone))).ToList());
    }

    /// <summary>The trigram operators read their thresholds from settings; local to the transaction.</summary>
    internal static Task SetNameThresholdAsync(NpgsqlConnection conn, NpgsqlTransaction tx, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition("""
            select set_config('pg_trgm.similarity_threshold', @t, true), set_config('pg_trgm.word_similarity_threshold', @t, true)
            """, new { t = NameThreshold.ToString(CultureInfo.InvariantCulture) }, tx, cancellationToken: ct));

    /// <summary>The statement and its parameters, or null when the term cannot match the kinds asked for (a credit code among leads).</summary>
    internal static (string Sql, object Args)? Build(SearchQuery query, ScopeViewer? viewer = null)
    {
        var parts = new List<string>();
        // A scoped caller's filter joins each branch's WHERE, so every LIMIT counts only records the caller may see.
        string Scope(string type, string id) => viewer is null ? "" : "and " + CustomerScope.Visible(type, id);
        object args;
        switch (query.Term)
        {
            case SearchTerm.Mobile m:
                if (query.Kinds.Contains(SearchKind.Contact)) parts.Add(ContactBy("mobile_phone", "phone", Scope("contact", "c.contact_id")));
                if (query.Kinds.Contains(SearchKind.Lead)) parts.Add(LeadBy("mobile_phone", "phone", Scope("lead", "lead.lead_id")));
                args = new { key = m.Number, query.Limit };
                break;
            case SearchTerm.Email e:
                if (query.Kinds.Contains(SearchKind.Contact)) parts.Add(ContactBy("email", "email", Scope("contact", "c.contact_id")));
                if (query.Kinds.Contains(SearchKind.Lead)) parts.Add(LeadBy("email", "email", Scope("lead", "lead.lead_id")));
                args = new { key = e.Address, query.Limit };
                break;
            case SearchTerm.CreditCode c:
                if (query.Kinds.Contains(SearchKind.Account)) parts.Add(AccountByCreditCode(Scope("account", "account.account_id")));
                args = new { key = c.Code, query.Limit };
                break;
            case SearchTerm.Name n:
                var personContains = n.Person.Length >= MinContainsLength;
                if (query.Kinds.Contains(SearchKind.Account)) parts.Add(AccountsByName(n.CompanyShort.Length >= MinContainsLength, Scope("account", "a.account_id")));
                if (query.Kinds.Contains(SearchKind.Contact)) parts.Add(PeopleByName("contact", personContains, Scope("contact", "p.contact_id")));
                if (query.Kinds.Contains(SearchKind.Lead)) parts.Add(PeopleByName("lead", personContains, Scope("lead", "p.lead_id")));
                args = new
                {
                    full = n.CompanyFull, @short = n.CompanyShort, shortPrefix = Like(n.CompanyShort) + "%",
                    shortContains = "%" + Like(n.CompanyShort) + "%", person = n.Person, personPrefix = Like(n.Person) + "%",
                    personContains = "%" + Like(n.Person) + "%", query.Limit,
                };
                break;
            default:
                throw new InvalidOperationException($"Unknown search term {query.Term.GetType().Name}.");
        }

        if (parts.Count == 0) return null;
        if (viewer is not null) args = CustomerScope.Parameters(viewer, args);
        return ($"""
            select * from (
            {string.Join("\nunion all\n", parts)}
            ) m
            order by Score desc, Name nulls last, Id
            limit @Limit
            """, args);
    }

    static string AccountByCreditCode(string scope) => $"""
        (select 'account' as Type, account_id as Id, account_name as Name, 1.0::float8 as Score, 'creditCode' as MatchedOn,
                null::text as CompanyName, city as City, null::text as MobilePhone
         from account where unified_social_credit_code = @key {scope} limit @Limit)
        """;

    static string ContactBy(string column, string matchedOn, string scope) => $"""
        (select 'contact' as Type, c.contact_id as Id, c.contact_name as Name, 1.0::float8 as Score, '{matchedOn}' as MatchedOn,
                a.account_name as CompanyName, c.city as City, c.mobile_phone as MobilePhone
         from contact c left join account a on a.account_id = c.primary_account_id
         where c.{column} = @key {scope} limit @Limit)
        """;

    static string LeadBy(string column, string matchedOn, string scope) => $"""
        (select 'lead' as Type, lead_id as Id, lead_name as Name, 1.0::float8 as Score, '{matchedOn}' as MatchedOn,
                company_name as CompanyName, city as City, mobile_phone as MobilePhone
         from lead where {column} = @key {scope} order by created_at desc limit @Limit)
        """;

    // Accounts are compared on the short name (no region, brackets or legal form), the key identity resolution
    // fuzzy-matches on too, so "腾讯" or "腾迅计算机系统" find 深圳市腾讯计算机系统有限公司; an exact full name
    // is an exact match whichever region it carries.
    static string AccountsByName(bool contains, string scope) => $"""
        (select 'account' as Type, a.account_id as Id, a.account_name as Name, {Banded("a.name_normalized = @full or a.name_short = @short", "a.name_short like @shortPrefix", "a.name_short like @shortContains")} as Score,
                'name' as MatchedOn, null::text as CompanyName, a.city as City, null::text as MobilePhone
         from account a
         cross join lateral (select greatest(similarity(a.name_short, @short), word_similarity(@short, a.name_short)) as sim) s
         where (a.name_normalized = @full or a.name_short % @short or @short <% a.name_short or a.name_short like @shortPrefix
               {(contains ? "or a.name_short like @shortContains" : "")}) {scope}
         order by Score desc, a.account_id limit @Limit)
        """;

    // Person names keep their case in storage; trigrams ignore case, and ILIKE is answered by the same index.
    static string PeopleByName(string table, bool contains, string scope)
    {
        var (id, name, company, join) = table == "contact"
            ? ("contact_id", "contact_name", "a.account_name", "left join account a on a.account_id = p.primary_account_id")
            : ("lead_id", "lead_name", "p.company_name", "");
        return $"""
            (select '{table}' as Type, p.{id} as Id, p.{name} as Name, {Banded($"lower(p.{name}) = lower(@person)", $"p.{name} ilike @personPrefix", $"p.{name} ilike @personContains")} as Score,
                    'name' as MatchedOn, {company} as CompanyName, p.city as City, p.mobile_phone as MobilePhone
             from {table} p {join}
             cross join lateral (select greatest(similarity(p.{name}, @person), word_similarity(@person, p.{name})) as sim) s
             where (p.{name} % @person or @person <% p.{name} or p.{name} ilike @personPrefix
                   {(contains ? $"or p.{name} ilike @personContains" : "")}) {scope}
             order by Score desc, p.{id} limit @Limit)
            """;
    }

    static string Banded(string exact, string prefix, string contains) => $"""
        round((case when {exact} then 1.0
                    when {prefix} then 0.8 + 0.1 * s.sim
                    when {contains} then 0.7 + 0.1 * s.sim
                    else 0.7 * s.sim end)::numeric, 3)::float8
        """;

    static string Like(string text) => text.Replace(@"\", @"\\", StringComparison.Ordinal)
        .Replace("%", @"\%", StringComparison.Ordinal).Replace("_", @"\_", StringComparison.Ordinal);

    sealed class Row
    {
        public string Type { get; set; } = "";
        public Guid Id { get; set; }
        public string? Name { get; set; }
        public double Score { get; set; }
        public string MatchedOn { get; set; } = "";
        public string? CompanyName { get; set; }
        public string? City { get; set; }
        public string? MobilePhone { get; set; }
    }
}
