using System.Buffers.Text;
using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Cdp.Shared.Api;

/// <summary>One page of a list and the cursor of the next (null: this was the last page).</summary>
public sealed record Page<T>(IReadOnlyList<T> Items, string? Next)
{
    /// <summary>
    /// The page from rows read with <c>limit + 1</c>: the extra row only says that more follow; the cursor points
    /// after the last row kept.
    /// </summary>
    public static Page<T> Of(IReadOnlyList<T> rows, int limit, Func<T, Keyset> key)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(key);
        return rows.Count <= limit ? new Page<T>(rows, null) : new Page<T>([.. rows.Take(limit)], key(rows[limit - 1]).Encode());
    }
}

/// <summary>
/// Where a page of a newest-first list ends: the sort time and id of its last row. Lists read the next page with
/// <c>(time, id) &lt; (At, Id)</c>, so rows added meanwhile neither repeat nor shift a page.
/// </summary>
public readonly record struct Keyset(DateTimeOffset At, string Id)
{
    public string Encode() => Paging.Opaque(string.Create(CultureInfo.InvariantCulture, $"k1|{At.UtcTicks}|{Id}"));

    /// <summary>The keyset of a cursor this API gave out; null for none; 422 for anything else.</summary>
    public static Keyset? Decode(string? cursor)
    {
        if (Paging.Reveal(cursor) is not { } text) return null;
        var parts = text.Split('|', 3);
        return parts is ["k1", var ticks, var id] && long.TryParse(ticks, NumberStyles.None, CultureInfo.InvariantCulture, out var t)
            && t >= DateTimeOffset.MinValue.UtcTicks && t <= DateTimeOffset.MaxValue.UtcTicks && id.Length > 0
            ? new Keyset(new DateTimeOffset(t, TimeSpan.Zero), id)
            : throw Paging.BadCursor();
    }
}

/// <summary>
/// How every list route pages (API.md): newest first, <c>limit</c> rows (1-1000, default 100) and, when more follow,
/// the response header <c>X-Cdp-Next-Cursor</c>; the same query with <c>cursor=</c> that value reads the next page.
/// The body stays a JSON array. A page may hold fewer than <c>limit</c> rows (a filter the store cannot apply): only a
/// missing header means the end.
/// </summary>
public static class Paging
{
    public const string NextCursorHeader = "X-Cdp-Next-Cursor";
    public const int DefaultLimit = 100, MaxLimit = 1000;

    /// <summary>Cursors are opaque: long store tokens (Durable's continuation) fit in a header all the same.</summary>
    const int MaxCursorLength = 4096;

    public static int Limit(this ApiCall call)
    {
        ArgumentNullException.ThrowIfNull(call);
        var limit = call.QueryInt("limit") ?? DefaultLimit;
        return limit is >= 1 and <= MaxLimit ? limit : throw ApiProblemException.Invalid("limit", $"Between 1 and {MaxLimit}.");
    }

    public static IResult Json<T>(ApiCall call, Page<T> page)
    {
        ArgumentNullException.ThrowIfNull(call);
        ArgumentNullException.ThrowIfNull(page);
        if (page.Next is { } next) call.Http.Response.Headers[NextCursorHeader] = next;
        return ApiResults.Json(page.Items);
    }

    /// <summary>A store's own continuation as a cursor: base64url, so any text travels in a header and a query.</summary>
    public static string Opaque(string text) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(text));

    /// <summary>The text <see cref="Opaque"/> wrapped; null for no cursor; 422 for one this API never gave out.</summary>
    public static string? Reveal(string? cursor)
    {
        if (string.IsNullOrEmpty(cursor)) return null;
        if (cursor.Length > MaxCursorLength) throw BadCursor();
        try
        {
            var text = new UTF8Encoding(false, true).GetString(Base64Url.DecodeFromChars(cursor));
            return text.Length > 0 && !text.Contains('\0', StringComparison.Ordinal) ? text : throw BadCursor();
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            throw BadCursor();
        }
    }

    public static ApiProblemException BadCursor() =>
        ApiProblemException.Invalid("cursor", $"Not a cursor this list gave out: pass the {NextCursorHeader} header of the previous page as it is.");
}
