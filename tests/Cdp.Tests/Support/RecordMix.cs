using System.Globalization;
using System.Text;
using System.Text.Json;
using Cdp.Shared.Cleansing;

namespace Cdp.Tests.Support;

/// <summary>One crm/erp record envelope of a <see cref="RecordMix"/>, as a webhook body or an import line.</summary>
public sealed record MixRecord(string Channel, string SourceId, string ObjectType, DateTimeOffset ModifiedAt, IReadOnlyList<KeyValuePair<string, string>> Fields)
{
    /// <summary>The webhook body / NDJSON line (one line, fields in their order).</summary>
    public string Json() => JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["sourceId"] = SourceId,
        ["objectType"] = ObjectType,
        ["modifiedAt"] = ModifiedAt.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
        ["fields"] = Fields.ToDictionary(f => f.Key, f => f.Value),
    }, RecordMix.JsonOptions);
}

/// <summary>
/// A deterministic mix of crm/erp records like a first load brings: CRM contacts and leads of people who recur
/// (the same mobile or email under several source ids), ERP accounts of companies that recur (with and without credit
/// codes), later versions of earlier records, exact resends, records cleansing rejects (bad mobile, email, credit code)
/// and contacts of companies whose names are close to two accounts of one city (identity review). Same seed, same list.
/// </summary>
public static class RecordMix
{
    internal static readonly JsonSerializerOptions JsonOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    static readonly string[] Cities = ["上海", "北京", "深圳", "杭州", "成都", "武汉"];
    const string Syllables = "华瑞腾嘉盛鑫恒达泰丰博远宏信安康和美源通创新智联佳德隆启明星辰海川云峰";
    static readonly string[] Surnames = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴"];
    static readonly string[] Titles = ["经理", "总监", "采购", "工程师", "助理"];
    public static readonly DateTimeOffset Epoch = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>The CSV columns a mix uses: the envelope and every source field name that occurs.</summary>
    public static readonly string[] CsvColumns =
        ["sourceId", "objectType", "modifiedAt", "LastName", "FirstName", "Company", "MobilePhone", "Email", "City", "Title", "LeadSource", "CustomerName", "CreditCode"];

    public static List<MixRecord> Build(int count, int seed = 14)
    {
        var random = new Random(seed);
        var companies = Enumerable.Range(0, Math.Max(8, count / 25)).Select(i =>
        {
            var stem = new string(Enumerable.Range(0, 3).Select(_ => Syllables[random.Next(Syllables.Length)]).ToArray()) + i.ToString(CultureInfo.InvariantCulture);
            return (Name: stem + "科技有限公司", Stem: stem, City: Cities[random.Next(Cities.Length)], Code: random.Next(2) == 0 ? CreditCodeOf(random) : null);
        }).ToList();
        var people = Enumerable.Range(0, Math.Max(10, count / 3)).Select(i => (
            Last: Surnames[random.Next(Surnames.Length)],
            First: new string(Enumerable.Range(0, 2).Select(_ => Syllables[random.Next(Syllables.Length)]).ToArray()),
            Mobile: "13" + (100_000_000 + i * 7919L % 899_999_999).ToString(CultureInfo.InvariantCulture),
            Email: $"p{i}@mix.example.com",
            Company: random.Next(companies.Count))).ToList();

        var list = new List<MixRecord>(count);
        for (var i = 0; list.Count < count; i++)
        {
            var at = Epoch.AddSeconds(i);
            var roll = random.Next(100);
            if (roll < 10 && list.Count > 20)
            {
                // A later version of an earlier record: same source id, newer modifiedAt, some fields changed.
                var earlier = list[random.Next(list.Count)];
                var fields = earlier.Fields.Where(f => f.Key is not ("Title" or "City")).ToList();
                fields.Add(new("Title", Titles[random.Next(Titles.Length)]));
                list.Add(earlier with { ModifiedAt = at, Fields = fields });
                continue;
            }
            if (roll < 14 && list.Count > 20)
            {
                list.Add(list[random.Next(list.Count)]);   // an exact resend
                continue;
            }
            if (roll < 19)
            {
                var person = people[random.Next(people.Count)];
                var (field, bad) = random.Next(3) switch
                {
                    0 => ("MobilePhone", "12345"),
                    1 => ("Email", "not-an-email"),
                    _ => ("CreditCode", "ABC123"),
                };
                list.Add(new("crm", $"crm-bad-{i}", field == "CreditCode" ? "account" : "contact", at,
                    field == "CreditCode"
                        ? [new("Name", companies[person.Company].Name), new("CreditCode", bad), new("City", companies[person.Company].City)]
                        : [new("LastName", person.Last), new("FirstName", person.First), new(field, bad)]));
                continue;
            }
            if (roll < 25)
            {
                // Two accounts of one city whose names are close, then a contact of a third spelling: a person decides.
                var company = companies[random.Next(companies.Count)];
                var city = company.City;
                list.Add(new("erp", $"erp-near-a-{i}", "account", at, [new("CustomerName", company.Stem + "信息技术有限公司"), new("City", city)]));
                list.Add(new("erp", $"erp-near-b-{i}", "account", at.AddMilliseconds(1), [new("CustomerName", company.Stem + "网络技术有限公司"), new("City", city)]));
                var person = people[random.Next(people.Count)];
                list.Add(new("crm", $"crm-near-{i}", "contact", at.AddMilliseconds(2),
                    [new("LastName", person.Last), new("FirstName", person.First), new("Company", company.Stem + "技术有限公司"), new("City", city),
                     new("MobilePhone", person.Mobile)]));
                continue;
            }
            if (roll < 45)
            {
                var company = companies[random.Next(companies.Count)];
                var fields = new List<KeyValuePair<string, string>> { new("CustomerName", company.Name), new("City", company.City) };
                if (company.Code is { } code) fields.Add(new("CreditCode", code));
                list.Add(new("erp", $"erp-{i}", "account", at, fields));
                continue;
            }
            var p = people[random.Next(people.Count)];
            var c = companies[p.Company];
            if (roll < 75)
            {
                list.Add(new("crm", $"crm-c-{i}", "contact", at,
                    [new("LastName", p.Last), new("FirstName", p.First), new("Company", c.Name), new("City", c.City),
                     new("MobilePhone", p.Mobile), new("Email", p.Email), new("Title", Titles[random.Next(Titles.Length)])]));
            }
            else
            {
                list.Add(new("crm", $"crm-l-{i}", "lead", at,
                    [new("LastName", p.Last), new("FirstName", p.First), new("Company", c.Name), new("City", c.City),
                     new("MobilePhone", p.Mobile), new("LeadSource", "expo")]));
            }
        }
        return list.Take(count).ToList();
    }

    /// <summary>The records of one channel as an NDJSON body.</summary>
    public static string Ndjson(IEnumerable<MixRecord> records) => string.Concat(records.Select(r => r.Json() + "\n"));

    /// <summary>The records as a CSV body with the <see cref="CsvColumns"/> header (fields quoted where they must be).</summary>
    public static string Csv(IEnumerable<MixRecord> records)
    {
        var csv = new StringBuilder().AppendLine(string.Join(',', CsvColumns));
        foreach (var r in records)
        {
            var values = CsvColumns.Select(column => column switch
            {
                "sourceId" => r.SourceId,
                "objectType" => r.ObjectType,
                "modifiedAt" => r.ModifiedAt.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
                _ => r.Fields.FirstOrDefault(f => f.Key == column).Value ?? "",
            });
            csv.AppendLine(string.Join(',', values.Select(Quote)));
        }
        return csv.ToString();

        static string Quote(string value) =>
            value.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;
    }

    static string CreditCodeOf(Random random)
    {
        var first17 = "91310000" + new string(Enumerable.Range(0, 9).Select(_ => CreditCode.Alphabet[random.Next(CreditCode.Alphabet.Length)]).ToArray());
        return first17 + CreditCode.ComputeCheckCharacter(first17);
    }
}
