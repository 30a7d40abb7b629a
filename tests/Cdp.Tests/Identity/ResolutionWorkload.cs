using System.Globalization;
using Cdp.Shared.Ingestion;

namespace Cdp.Tests.Identity;

/// <summary>
/// A deterministic day of records for comparing resolution paths: CRM/WeCom contacts and CRM/ERP accounts of a few
/// hundred companies in four cities, WeChat form leads, the same people and companies again from other channels and
/// as later (and older) updates, short-name spellings that reach the fuzzy rule, same-name companies with different
/// credit codes (their unnamed contacts go to review), unverified codes, CRM users who copied an X number, records
/// the cleanser rejects, and redeliveries of a record already sent.
/// </summary>
public static class ResolutionWorkload
{
    public sealed record Item(int Delivery, CustomerRecord Record);

    /// <summary>Numbers that arrived as X numbers; the test seeds them into virtual_number_seen.</summary>
    public static readonly string[] VirtualNumbers = ["17100000001", "17100000002", "17100000003"];

    sealed record Company(string Name, string Short, string City, string? Code);

    sealed record Person(int N, string Name, string Mobile, string? Email, Company Company);

    const string Syllables = "华瑞腾嘉盛鑫恒达泰丰博远宏信安康和美源通创新智联佳德隆启明星辰海川云峰";
    static readonly string[] Cities = ["上海", "北京", "深圳", "杭州"];

    /// <summary>
    /// <paramref name="count"/> deliveries; <see cref="Item.Delivery"/> numbers the distinct records, so a redelivery
    /// repeats the number (and the ingestion id) of the record it repeats.
    /// </summary>
    public static List<Item> Build(int count, int seed)
    {
        var random = new Random(seed);
        var t0 = new DateTimeOffset(2025, 6, 1, 9, 0, 0, TimeSpan.FromHours(8));
        var companies = new List<Company>();
        for (var n = 0; n < 300; n++)
        {
            var word = new string(Enumerable.Range(0, 4).Select(_ => Syllables[random.Next(Syllables.Length)]).ToArray());
            companies.Add(new Company(word + "科技有限公司", word + "科技", Cities[random.Next(Cities.Length)],
                n % 3 == 0 ? null : Code(random, verified: n % 23 != 0)));
        }

        // Same legal name, another credit code: a second account, and a name-only record matches both.
        for (var n = 0; n < 12; n++)
        {
            companies.Add(companies[n * 7] with { Code = Code(random, verified: true) });
        }

        var people = Enumerable.Range(0, 2500).Select(n => new Person(
            n, "王" + Syllables[n % Syllables.Length] + Syllables[(n / Syllables.Length) % Syllables.Length],
            "139" + (10_000_000 + n * 3_571 % 89_999_999).ToString(CultureInfo.InvariantCulture),
            n % 2 == 0 ? $"p{n}@eq.example.com" : null, companies[random.Next(companies.Count)])).ToList();

        var items = new List<Item>(count);
        var delivery = 0;
        for (var i = 0; i < count; i++)
        {
            if (i > 10 && random.Next(100) == 0)
            {
                items.Add(items[i - 1 - random.Next(Math.Min(i, 40))]);
                continue;
            }

            var at = t0.AddMinutes(i - random.Next(3) * random.Next(600));
            var person = people[(int)Math.Min(people.Count - 1, Math.Abs(NextGaussian(random) * 700))];
            var company = companies[random.Next(companies.Count)];
            var mobile = random.Next(40) == 0 ? VirtualNumbers[random.Next(VirtualNumbers.Length)] : person.Mobile;
            CustomerRecord record = random.Next(20) switch
            {
                < 7 => new CustomerRecord
                {
                    Channel = ChannelNames.Crm, SourceId = $"crm-c-{person.N}", Kind = EntityKind.Contact, ModifiedAt = at,
                    Name = person.Name, Company = random.Next(6) == 0 ? person.Company.Short : person.Company.Name,
                    City = person.Company.City, Mobile = mobile, Email = person.Email, Title = random.Next(2) == 0 ? "经理" : "总监",
                    OwnerId = random.Next(4) == 0 ? $"staff{random.Next(5)}" : null,
                },
                < 9 => new CustomerRecord
                {
                    Channel = ChannelNames.WeCom, SourceId = $"wm-{person.N}", Kind = EntityKind.Contact, ModifiedAt = at,
                    Name = person.Name, Company = person.Company.Name, Mobile = random.Next(2) == 0 ? person.Mobile : null,
                    WeComExternalUserId = $"wm-{person.N}", UnionId = $"un-{person.N}",
                    Followers = [new Follower($"staff{person.N % 5}", t0)],
                },
                < 13 => new CustomerRecord
                {
                    Channel = ChannelNames.WeChat, SourceId = $"form-{i}", Kind = EntityKind.Lead, ModifiedAt = at,
                    Name = random.Next(8) == 0 ? null : person.Name, Company = person.Company.Short, City = person.Company.City,
                    Mobile = random.Next(5) == 0 ? null : person.Mobile, OpenId = $"op-{person.N}", UnionId = $"un-{person.N}",
                    UtmSource = "ad", UtmCampaign = $"c{random.Next(3)}", Title = "采购",
                },
                < 15 => new CustomerRecord
                {
                    Channel = ChannelNames.Crm, SourceId = $"crm-l-{person.N % 800}", Kind = EntityKind.Lead, ModifiedAt = at,
                    Name = person.Name, Company = person.Company.Name, Mobile = mobile, Email = person.Email,
                    LeadSource = "展会", CampaignId = $"camp{random.Next(4)}",
                },
                < 17 => new CustomerRecord
                {
                    Channel = ChannelNames.Erp, SourceId = $"erp-{companies.IndexOf(company)}", Kind = EntityKind.Account, ModifiedAt = at,
                    Company = random.Next(5) == 0 ? company.Short : company.Name, City = company.City, CreditCode = company.Code,
                },
                < 18 => new CustomerRecord
                {
                    Channel = ChannelNames.Crm, SourceId = $"crm-a-{companies.IndexOf(company)}", Kind = EntityKind.Account, ModifiedAt = at,
                    Company = company.Name, City = company.City, CreditCode = random.Next(2) == 0 ? company.Code : null,
                    OwnerId = $"staff{random.Next(5)}",
                },
                < 19 => new CustomerRecord
                {
                    // A contact who only gives a company name shared by two legal entities: review.
                    Channel = ChannelNames.Crm, SourceId = $"crm-c-x{i}", Kind = EntityKind.Contact, ModifiedAt = at,
                    Name = person.Name, Company = companies[300 + random.Next(12)].Name, Mobile = "137" + (10_000_000 + i).ToString(CultureInfo.InvariantCulture),
                },
                _ => new CustomerRecord
                {
                    // Rejected by the cleanser: a mobile that is no mobile, or a lead with neither name nor company.
                    Channel = ChannelNames.Crm, SourceId = $"crm-bad-{i}", Kind = random.Next(2) == 0 ? EntityKind.Contact : EntityKind.Lead,
                    ModifiedAt = at, Name = random.Next(2) == 0 ? person.Name : null, Mobile = "12345",
                },
            };
            items.Add(new Item(delivery++, record));
        }

        return items;
    }

    static string Code(Random random, bool verified)
    {
        var alphabet = Cdp.Shared.Cleansing.CreditCode.Alphabet;
        var first17 = "91310000" + new string(Enumerable.Range(0, 9).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray());
        var check = Cdp.Shared.Cleansing.CreditCode.ComputeCheckCharacter(first17);
        return first17 + (verified ? check : alphabet[(alphabet.IndexOf(check, StringComparison.Ordinal) + 1) % alphabet.Length]);
    }

    static double NextGaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
