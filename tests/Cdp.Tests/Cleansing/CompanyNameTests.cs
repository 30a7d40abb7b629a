using Cdp.Shared.Cleansing;

namespace Cdp.Tests.Cleansing;

public class CompanyNameTests
{
    [Theory]
    [InlineData("北京字节跳动科技有限公司", "北京字节跳动科技有限公司", "字节跳动科技")]
    [InlineData("腾讯科技（深圳）有限公司", "腾讯科技(深圳)有限公司", "腾讯科技")]
    [InlineData("上海 华为 技术 有限 责任 公司", "上海华为技术有限责任公司", "华为技术")]
    [InlineData("ACME Co., Ltd.", "acme co., ltd.", "acme")]
    [InlineData("ＡＣＭＥ　Ｃｏ．，Ｌｔｄ．", "acme co.,ltd.", "acme")]
    [InlineData("阿里巴巴【中国】有限公司", "阿里巴巴(中国)有限公司", "阿里巴巴")]
    [InlineData("华为技术 [上海] 有限公司", "华为技术(上海)有限公司", "华为技术")]
    [InlineData("广东省深圳市大疆创新科技有限公司", "广东省深圳市大疆创新科技有限公司", "大疆创新科技")]
    [InlineData("浙江吉利控股集团有限公司", "浙江吉利控股集团有限公司", "吉利控股")]
    [InlineData("中国平安保险(集团)股份有限公司", "中国平安保险(集团)股份有限公司", "中国平安保险")]
    [InlineData("招商银行股份有限公司上海分公司", "招商银行股份有限公司上海分公司", "招商银行")]
    [InlineData("内蒙古伊利实业集团股份有限公司", "内蒙古伊利实业集团股份有限公司", "伊利实业")]
    [InlineData("新疆维吾尔自治区天山纺织有限公司", "新疆维吾尔自治区天山纺织有限公司", "天山纺织")]
    [InlineData("Huawei Technologies Co.,Ltd", "huawei technologies co.,ltd", "huawei technologies")]
    [InlineData("Apple Inc.", "apple inc.", "apple")]
    [InlineData("Microsoft Corporation", "microsoft corporation", "microsoft")]
    [InlineData("Costco", "costco", "costco")]                      // "co" inside a word is not a suffix
    [InlineData("Acme Trading Company Limited", "acme trading company limited", "acme trading")]
    [InlineData("Acme LLC", "acme llc", "acme")]
    [InlineData("Johnson & Johnson", "johnson & johnson", "johnson johnson")]
    [InlineData("IBM 中国", "ibm中国", "ibm中国")]
    [InlineData("ACME ( China ) Co., Ltd.", "acme (china) co., ltd.", "acme")]
    public void NormalizesFullAndShortName(string raw, string full, string shortName)
    {
        var result = CompanyName.Normalize(raw);
        Assert.Equal(full, result.FullName);
        Assert.Equal(shortName, result.ShortName);
    }

    [Theory]
    [InlineData("北京字节跳动科技有限公司", "字节跳动科技")]
    [InlineData("北京字节跳动科技有限公司", "北京市字节跳动科技有限责任公司")]
    [InlineData("腾讯科技（深圳）有限公司", "深圳市腾讯科技有限公司")]
    [InlineData("ACME Co., Ltd.", "Acme Co.,Ltd")]
    [InlineData("ACME Co., Ltd.", "ACME Limited")]
    public void SpellingsOfOneCompanyShareTheShortName(string a, string b) =>
        Assert.Equal(CompanyName.Normalize(a).ShortName, CompanyName.Normalize(b).ShortName);

    [Theory]
    [InlineData("字节跳动科技", "腾讯科技")]
    [InlineData("上海华为技术有限公司", "上海华为技术服务有限公司")]
    public void DifferentCompaniesKeepDifferentShortNames(string a, string b) =>
        Assert.NotEqual(CompanyName.Normalize(a).ShortName, CompanyName.Normalize(b).ShortName);

    [Theory]
    [InlineData("有限公司", "有限公司")]           // only a legal form: fall back to the full name
    [InlineData("北京有限公司", "北京")]           // the region is the whole name, so it stays
    [InlineData("Limited", "limited")]
    [InlineData("上海", "上海")]
    [InlineData("（上海）", "(上海)")]
    public void ShortNameIsNeverEmpty(string raw, string expectedShort) =>
        Assert.Equal(expectedShort, CompanyName.Normalize(raw).ShortName);

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData(" \u3000 ")]
    public void AbsentGivesNulls(string? raw) => Assert.Equal((null, null), CompanyName.Normalize(raw));
}
