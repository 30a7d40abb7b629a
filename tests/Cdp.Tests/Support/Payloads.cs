using System.Text.Json;

namespace Cdp.Tests.Support;

/// <summary>Channel payloads as outside systems send them (API.md).</summary>
public static class Payloads
{
    public static string Crm(string objectType, object fields, string? sourceId = null, DateTimeOffset? modifiedAt = null) =>
        JsonSerializer.Serialize(new
        {
            sourceId = sourceId ?? TestData.Id("crm"),
            objectType,
            modifiedAt = (modifiedAt ?? DateTimeOffset.UtcNow).ToString("O"),
            fields,
        });

    public static string WeChatForm(string openId, string? mobile, string? name = "王小明", string? company = null,
        string? city = null, string? email = null, string? unionId = null, string formId = "form-1", DateTimeOffset? submittedAt = null) =>
        JsonSerializer.Serialize(new
        {
            openId,
            unionId,
            formId,
            submittedAt = (submittedAt ?? DateTimeOffset.UtcNow).ToString("O"),
            name,
            mobile,
            email,
            company,
            city,
            title = "采购经理",
            utmSource = "wechat_ad",
            utmCampaign = "double11",
        });
}
