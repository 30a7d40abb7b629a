using System.Globalization;
using Cdp.Shared.Access;
using Cdp.Shared.Api;
using Cdp.Shared.Channels.WeCom;

namespace Cdp.Shared.Sync;

/// <summary>Names shared by the store, the targets and the API.</summary>
public static class SyncStatus
{
    public const string Pending = "pending";
    public const string Retrying = "retrying";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";

    public static readonly IReadOnlyList<string> All = [Pending, Retrying, Succeeded, Failed];

    /// <summary>The list filter: null/empty for every status, otherwise one of <see cref="All"/> (422 for anything else).</summary>
    public static string? Parse(string? status) =>
        string.IsNullOrEmpty(status) ? null
        : All.Contains(status) ? status
        : throw new ApiProblemException(ApiProblem.Unprocessable(
            new Dictionary<string, string[]> { ["status"] = [$"Must be one of {string.Join(", ", All)}."] }));
}

public static class SyncTargetNames
{
    public const string WeComTags = "wecom_tags";
    public const string WeComFollowUp = "wecom_follow_up";
    public const string Finance = "finance";
}

/// <summary>Pure decisions of the sidebar sync: input rules, what to push, what an alert may say.</summary>
public static class SyncRules
{
    /// <summary>WeCom's limit on a corp tag name.</summary>
    public const int MaxTagLength = 30;
    public const int MaxTags = 100;
    public const int MaxFollowUpLength = 4000;

    /// <summary>WeCom's limit on a remark description.</summary>
    public const int MaxDescriptionLength = 150;

    /// <summary>Trims and de-duplicates (first spelling wins, order kept); 422 for a missing list, empty or over-long tags.</summary>
    public static IReadOnlyList<string> NormalizeTags(IReadOnlyList<string?>? tags)
    {
        if (tags is null) throw ApiProblemException.Invalid("tags", "Required: the contact's complete tag set (an empty list clears it).");
        // The list cap before any work: duplicates are allowed, but not unbounded lists of them.
        if (tags.Count > MaxTags) throw ApiProblemException.Invalid("tags", $"At most {MaxTags} tags.");
        var errors = new List<string>();
        var result = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < tags.Count; i++)
        {
            var tag = tags[i]?.Trim();
            if (string.IsNullOrEmpty(tag)) errors.Add($"tags[{i}] is empty.");
            else if (tag.Length > MaxTagLength) errors.Add($"tags[{i}] is longer than {MaxTagLength} characters.");
            else if (seen.Add(tag)) result.Add(tag);
        }
        if (result.Count > MaxTags) errors.Add($"At most {MaxTags} distinct tags.");
        if (errors.Count > 0)
            throw new ApiProblemException(ApiProblem.Unprocessable(new Dictionary<string, string[]> { ["tags"] = [.. errors] }));
        return result;
    }

    public static (string Content, string? Channel) ValidateFollowUp(string? content, string? channel)
    {
        var errors = new Dictionary<string, string[]>();
        var text = content?.Trim();
        if (string.IsNullOrEmpty(text)) errors["content"] = ["Required."];
        else if (text.Length > MaxFollowUpLength) errors["content"] = [$"At most {MaxFollowUpLength} characters."];
        var ch = string.IsNullOrWhiteSpace(channel) ? null : channel.Trim();
        if (ch is { Length: > 50 }) errors["channel"] = ["At most 50 characters."];
        if (errors.Count > 0) throw new ApiProblemException(ApiProblem.Unprocessable(errors));
        return (text!, ch);
    }

    /// <summary>The remark description WeCom shows for the latest follow-up, cut to WeCom's limit.</summary>
    public static string FollowUpDescription(string content, string? channel, DateTimeOffset occurredAt)
    {
        var text = $"{occurredAt.ToOffset(TimeSpan.FromHours(8)).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)} {(channel is null ? "" : channel + ": ")}{content}";
        return text.Length <= MaxDescriptionLength ? text : text[..(MaxDescriptionLength - 1)] + "…";
    }

    /// <summary>
    /// The mark_tag call that makes the follow user's tags of the platform's group (<see cref="OwnTagIds"/>) equal
    /// <paramref name="desiredIds"/>: add what is missing, remove what is no longer wanted.
    /// </summary>
    public static (IReadOnlyList<string> Add, IReadOnlyList<string> Remove) TagDiff(
        IReadOnlyCollection<string> currentCorpTagIds, IReadOnlyCollection<string> desiredIds) =>
        ([.. desiredIds.Where(id => !currentCorpTagIds.Contains(id)).Distinct()],
         [.. currentCorpTagIds.Where(id => !desiredIds.Contains(id)).Distinct()]);

    /// <summary>
    /// The follower's corp tags that belong to the platform's group — by id from the group's tag list, or by group name
    /// for one the list no longer shows: the only tags a push may remove. Other groups' tags (set by people or other
    /// systems) and personal tags are not the platform's.
    /// </summary>
    public static IReadOnlyList<string> OwnTagIds(IEnumerable<WeComTag> followerTags, IReadOnlySet<string> groupTagIds, string groupName) =>
        [.. followerTags.Where(t => t.Type == 1 && t.TagId is not null && (groupTagIds.Contains(t.TagId) || t.GroupName == groupName)).Select(t => t.TagId!)];

    /// <summary>Mobile numbers and e-mail addresses never leave in an alert or a stored error.</summary>
    public static string Redact(string? text) => PiiMask.Text(text) ?? "";

    public static string AlertText(SyncTaskView task, int suppressedSince)
    {
        var text = $"""
            【CDP 同步失败】sync task {task.Id}
            target: {task.Target}
            contact: {task.EntityType} {task.EntityId}
            attempts: {task.Attempts}
            last error: {Redact(task.LastError)}
            """;
        if (suppressedSince > 0) text += $"\n(+{suppressedSince} more failed sync task(s) since the last alert; see GET /api/sync-tasks?status=failed)";
        return text.Length <= 2000 ? text : text[..2000];
    }

}
