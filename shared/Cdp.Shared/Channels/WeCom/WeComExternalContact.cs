using System.Text.Json.Serialization;

namespace Cdp.Shared.Channels.WeCom;

/// <summary>An external contact as <c>externalcontact/get</c> returns it, with the employees who follow them.</summary>
public sealed record WeComExternalContact
{
    [JsonPropertyName("external_userid")] public string ExternalUserId { get; init; } = "";
    [JsonPropertyName("name")] public string? Name { get; init; }
    [JsonPropertyName("position")] public string? Position { get; init; }
    [JsonPropertyName("avatar")] public string? Avatar { get; init; }
    [JsonPropertyName("corp_name")] public string? CorpName { get; init; }
    [JsonPropertyName("corp_full_name")] public string? CorpFullName { get; init; }

    /// <summary>1 = a WeChat user, 2 = a WeCom user.</summary>
    [JsonPropertyName("type")] public int Type { get; init; }

    /// <summary>0 unknown, 1 male, 2 female.</summary>
    [JsonPropertyName("gender")] public int Gender { get; init; }

    [JsonPropertyName("unionid")] public string? UnionId { get; init; }

    /// <summary>From the response's top-level <c>follow_user</c>.</summary>
    [JsonIgnore] public IReadOnlyList<WeComFollowUser> FollowUsers { get; init; } = [];
}

public sealed record WeComFollowUser
{
    [JsonPropertyName("userid")] public string UserId { get; init; } = "";
    [JsonPropertyName("remark")] public string? Remark { get; init; }
    [JsonPropertyName("description")] public string? Description { get; init; }

    /// <summary>Unix seconds when the employee added the contact.</summary>
    [JsonPropertyName("createtime")] public long CreateTime { get; init; }

    [JsonPropertyName("tags")] public IReadOnlyList<WeComTag>? Tags { get; init; }
    [JsonPropertyName("remark_corp_name")] public string? RemarkCorpName { get; init; }
    [JsonPropertyName("remark_mobiles")] public IReadOnlyList<string>? RemarkMobiles { get; init; }
    [JsonPropertyName("state")] public string? State { get; init; }

    [JsonIgnore] public DateTimeOffset CreatedAt => DateTimeOffset.FromUnixTimeSeconds(CreateTime);
}

public sealed record WeComTag
{
    [JsonPropertyName("group_name")] public string? GroupName { get; init; }
    [JsonPropertyName("tag_name")] public string? TagName { get; init; }
    [JsonPropertyName("tag_id")] public string? TagId { get; init; }

    /// <summary>1 corp tag, 2 personal tag, 3 rule-group tag.</summary>
    [JsonPropertyName("type")] public int Type { get; init; }
}

/// <summary>A corp tag group as <c>get_corp_tag_list</c> / <c>add_corp_tag</c> return it.</summary>
public sealed record WeComTagGroup
{
    [JsonPropertyName("group_id")] public string? GroupId { get; init; }
    [JsonPropertyName("group_name")] public string? GroupName { get; init; }
    [JsonPropertyName("deleted")] public bool Deleted { get; init; }
    [JsonPropertyName("tag")] public IReadOnlyList<WeComCorpTag> Tags { get; init; } = [];
}

public sealed record WeComCorpTag
{
    [JsonPropertyName("id")] public string Id { get; init; } = "";
    [JsonPropertyName("name")] public string Name { get; init; } = "";
    [JsonPropertyName("deleted")] public bool Deleted { get; init; }
}
