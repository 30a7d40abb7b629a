using System.Text;
using System.Text.RegularExpressions;

namespace Cdp.Shared.Cleansing;

/// <summary>
/// Company names in two forms: the full legal name for exact matching, and a short name for fuzzy matching.
/// CRM users type "字节跳动", the ERP holds "北京字节跳动科技有限公司" and a business card says
/// "字节跳动科技"; only once the region and the legal form are gone do these meet.
/// </summary>
public static class CompanyName
{
    // Municipalities, provinces, autonomous regions and SARs (34), then the cities companies most often carry
    // in their registered name. The pattern tries them longest first. Stripping a region can cut a real name
    // ("北京银行" -> "银行", "上海市场…" read as 上海市 + 场…); the short name is a fuzzy key, so that is accepted.
    private static readonly string[] Regions =
    [
        "北京", "天津", "上海", "重庆",
        "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽", "福建", "江西", "山东", "河南", "湖北",
        "湖南", "广东", "海南", "四川", "贵州", "云南", "陕西", "甘肃", "青海", "台湾",
        "内蒙古", "广西", "西藏", "宁夏", "新疆", "香港", "澳门",
        "广州", "深圳", "杭州", "南京", "苏州", "成都", "武汉", "西安", "长沙", "郑州", "青岛", "厦门", "宁波",
        "合肥", "福州", "济南", "沈阳", "大连", "哈尔滨", "长春", "昆明", "南宁", "贵阳", "太原", "石家庄", "南昌",
        "兰州", "海口", "无锡", "佛山", "东莞", "珠海", "乌鲁木齐", "呼和浩特", "银川", "西宁", "拉萨",
    ];

    private static readonly string Region =
        "(?:" + string.Join("|", Regions.OrderByDescending(r => r.Length).Select(Regex.Escape)) + ")"
        + "(?:特别行政区|维吾尔自治区|壮族自治区|回族自治区|自治区|省|市)?";

    // Compiled: every record with a company runs these, and the region alternation is long; interpreted, they took ~3 %
    // of the host's CPU on the ingest bench (perf). Built from the list above, so not source-generated.
    private const RegexOptions Options = RegexOptions.CultureInvariant | RegexOptions.Compiled;

    private static readonly Regex LeadingRegion = new("^" + Region, Options);

    // "腾讯科技(深圳)有限公司", "平安保险(集团)": the bracket says where or what form, not who.
    private static readonly Regex BracketedRegionOrForm = new(
        @"\((?:" + Region + @"|中国|china|集团|有限合伙|普通合伙)\)", Options);

    // The regex engine tries start positions left to right, so among alternatives anchored at the end the
    // longest suffix wins; a branch's region goes with it ("招商银行上海分公司" -> "招商银行").
    private static readonly Regex ChineseLegalSuffix = new(
        "(?:(?:" + Region + ")?分公司|集团股份有限公司|集团有限公司|股份有限公司|有限责任公司|有限公司|股份公司|集团|公司)$",
        Options);

    // Applied repeatedly, so "co., ltd." goes as "ltd." then "co.,". The look-behind keeps "costco" intact.
    private static readonly Regex LatinLegalSuffix = new(
        @"(?<![a-z0-9])(?:company\s+limited|corporation|company|limited|corp|inc|llc|ltd|co)[\s.,]*$",
        Options);

    private static readonly Regex TrailingSeparators = new(@"[\s.,]+$", Options);

    /// <summary>
    /// FullName: width-normalised, brackets unified to (), spaces next to CJK removed, Latin lower-cased.
    /// ShortName: FullName without leading region, bracketed region, legal form and punctuation; falls back to
    /// FullName rather than being empty.
    /// </summary>
    public static (string? FullName, string? ShortName) Normalize(string? raw)
    {
        var text = TextNormalizer.Normalize(raw);
        if (text is null)
        {
            return (null, null);
        }

        var full = TextNormalizer.RemoveSpacesAroundCjk(UnifyBrackets(text).ToLowerInvariant());
        var shortName = Shorten(full);
        return (full, string.IsNullOrEmpty(shortName) ? full : shortName);
    }

    private static string Shorten(string full)
    {
        var name = BracketedRegionOrForm.Replace(full, "");
        name = StripLegalSuffixes(name);

        // Twice, for "广东省深圳市…". The region stays when fewer than two name characters would be left
        // ("北京有限公司"), because then it is the name.
        for (var i = 0; i < 2; i++)
        {
            var match = LeadingRegion.Match(name);
            if (!match.Success || CountNameChars(name[match.Length..]) < 2)
            {
                break;
            }

            name = name[match.Length..];
        }

        return StripPunctuation(name);
    }

    private static string StripLegalSuffixes(string name)
    {
        while (true)
        {
            var before = name;
            name = TrailingSeparators.Replace(name, "");
            name = ChineseLegalSuffix.Replace(name, "");
            name = LatinLegalSuffix.Replace(name, "");
            if (name == before || name.Length == 0)
            {
                return name;
            }
        }
    }

    private static string UnifyBrackets(string text)
    {
        // NFKC has already turned （） and ［］ into ASCII; the lenticular and tortoise-shell brackets it leaves.
        var sb = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            sb.Append(c switch
            {
                '[' or '【' or '〔' or '〖' => '(',
                ']' or '】' or '〕' or '〗' => ')',
                _ => c,
            });
        }

        return sb.ToString();
    }

    private static string StripPunctuation(string name)
    {
        var sb = new StringBuilder(name.Length);
        foreach (var c in name)
        {
            if (!char.IsPunctuation(c) && !char.IsSymbol(c))
            {
                sb.Append(c);
            }
        }

        // Removing "&" or "-" can leave double or edge spaces, or a space now next to CJK.
        return TextNormalizer.RemoveSpacesAroundCjk(TextNormalizer.Normalize(sb.ToString()) ?? "");
    }

    private static int CountNameChars(string text) => text.Count(char.IsLetterOrDigit);
}
