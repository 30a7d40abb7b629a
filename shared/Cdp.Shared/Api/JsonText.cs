using System.Text;
using System.Text.Json;

namespace Cdp.Shared.Api;

/// <summary>
/// The text rules every JSON body shares (API.md, "Text"): not valid UTF-8 -> 400; malformed JSON -> 400; a NUL
/// character (U+0000) in any string or property name -> 422 naming the field, since Postgres text cannot hold it and a
/// silent strip would change signed data. Every route that reads JSON parses through <see cref="Parse"/>.
/// </summary>
public static class JsonText
{
    /// <summary>Nesting no request body needs; deeper is refused (400) before any work.</summary>
    public const int DefaultMaxDepth = 32;

    /// <summary>400 unless <paramref name="body"/> is well-formed UTF-8 (overlong forms, surrogates and UTF-16 BOMs are not).</summary>
    public static void EnsureUtf8(ReadOnlySpan<byte> body)
    {
        if (!System.Text.Unicode.Utf8.IsValid(body))
            throw new ApiProblemException(ApiProblem.BadRequest("The body is not valid UTF-8."));
    }

    /// <summary>The UTF-8 text of a body, or 400.</summary>
    public static string DecodeUtf8(ReadOnlySpan<byte> body)
    {
        EnsureUtf8(body);
        return Encoding.UTF8.GetString(body);
    }

    /// <summary>A JSON document that passed the text rules; the caller disposes it.</summary>
    public static JsonDocument Parse(ReadOnlyMemory<byte> body, int maxDepth = DefaultMaxDepth)
    {
        EnsureUtf8(body.Span);
        JsonDocument doc;
        try { doc = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = maxDepth }); }
        catch (JsonException e) { throw new ApiProblemException(ApiProblem.BadRequest($"The body is not valid JSON: {e.Message}")); }
        // Both a lone surrogate and a NUL can only come as a \u escape: a body without one (most) needs no walk.
        if (!body.Span.ContainsEscapedUnicode() || !MayBeUndecodableOrNul(doc.RootElement)) return doc;
        try
        {
            EnsureDecodable(doc.RootElement, "");
            EnsureNoNul(doc.RootElement);
        }
        catch { doc.Dispose(); throw; }
        return doc;
    }

    /// <summary>
    /// The walks below name the field they fault, building a path for every value; this one only says whether either
    /// could find anything (a string or name with a \u escape that decodes to no text or to a NUL), so a clean body —
    /// most, even with escapes — is walked once without paths.
    /// </summary>
    static bool MayBeUndecodableOrNul(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                return System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(element).ContainsEscapedUnicode() && !IsCleanText(() => element.GetString());
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                    if (MayBeUndecodableOrNul(item)) return true;
                return false;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                    if (!IsCleanText(() => property.Name) || MayBeUndecodableOrNul(property.Value)) return true;
                return false;
            default:
                return false;
        }
    }

    static bool IsCleanText(Func<string?> read)
    {
        try { return read() is not { } text || !text.Contains('\0', StringComparison.Ordinal); }
        catch (InvalidOperationException) { return false; }
    }

    /// <summary>True when the text holds a backslash followed by u or U (or false positives such as an escaped backslash before a u).</summary>
    static bool ContainsEscapedUnicode(this ReadOnlySpan<byte> body) =>
        body.IndexOf("\\u"u8) >= 0 || body.IndexOf("\\U"u8) >= 0;

    /// <summary>
    /// 400 naming the field when a string (or a property name) is an escape the reader cannot turn into text: a lone
    /// UTF-16 surrogate such as <c>"\ud800"</c> is valid JSON syntax but no string, and reading it throws later anywhere.
    /// </summary>
    static void EnsureDecodable(JsonElement element, string path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                if (element.GetRawText().Contains("\\u", StringComparison.OrdinalIgnoreCase)) Decode(() => element.GetString(), path);
                break;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in element.EnumerateArray()) EnsureDecodable(item, $"{path}[{i++}]");
                break;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    var name = Decode(() => property.Name, path.Length == 0 ? "$" : path);
                    EnsureDecodable(property.Value, path.Length == 0 ? name : $"{path}.{name}");
                }
                break;
        }
    }

    static string Decode(Func<string?> read, string path)
    {
        try { return read() ?? ""; }
        catch (InvalidOperationException)
        {
            throw new ApiProblemException(new ApiProblem(400, "Malformed request", "A string holds an escape that is no text (a lone UTF-16 surrogate).",
                new Dictionary<string, string[]> { [path.Length == 0 ? "$" : path] = ["Not valid text."] }));
        }
    }

    /// <summary>422 naming the first field whose name or string value holds U+0000.</summary>
    public static void EnsureNoNul(JsonElement root)
    {
        if (NulPath(root, "") is { } path)
            throw new ApiProblemException(ApiProblem.Unprocessable(
                new Dictionary<string, string[]> { [path.Length == 0 ? "$" : path] = ["Must not contain the NUL character (U+0000)."] }));
    }

    /// <summary>The path (e.g. <c>fields.LastName</c>, <c>events[2].properties.x</c>) of the first NUL, or null.</summary>
    public static string? NulPath(JsonElement element, string path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                return HasNul(element) ? path : null;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in element.EnumerateArray())
                {
                    if (NulPath(item, $"{path}[{i}]") is { } found) return found;
                    i++;
                }
                return null;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    var name = path.Length == 0 ? property.Name : $"{path}.{property.Name}";
                    if (property.Name.Contains('\0', StringComparison.Ordinal)) return name.Replace("\0", "\\u0000", StringComparison.Ordinal);
                    if (NulPath(property.Value, name) is { } found) return found;
                }
                return null;
            default:
                return null;
        }
    }

    // Only an escaped \u0000 can put a NUL in a JSON string (a raw control character does not parse); look before decoding.
    static bool HasNul(JsonElement s) => s.GetRawText().Contains("\\u0000", StringComparison.Ordinal) && s.GetString()!.Contains('\0', StringComparison.Ordinal);

    /// <summary>
    /// A body that parsed but does not fit <typeparamref name="T"/>: a number or date out of range (the reader could not
    /// hold it) -> 422 naming the field; a value of the wrong type -> 400 naming the field.
    /// </summary>
    public static T Deserialize<T>(JsonDocument doc) where T : class
    {
        try
        {
            return doc.RootElement.Deserialize<T>(CdpJson.Options) ?? throw new ApiProblemException(ApiProblem.BadRequest("The body must be a JSON object."));
        }
        catch (JsonException e)
        {
            var field = e.Path is { Length: > 2 } p && p.StartsWith("$.", StringComparison.Ordinal) ? p[2..] : e.Path ?? "$";
            var outOfRange = e.InnerException is FormatException or OverflowException && At(doc.RootElement, e.Path) is { } value
                && (value.ValueKind == JsonValueKind.Number || value.ValueKind == JsonValueKind.String && LooksLikeDate(value.GetString()!));
            throw new ApiProblemException(outOfRange
                ? ApiProblem.Unprocessable(new Dictionary<string, string[]> { [field] = ["Out of range, or not a valid value of its kind."] })
                : new ApiProblem(400, "Malformed request", $"The body does not have the expected shape: {e.Message}",
                    new Dictionary<string, string[]> { [field] = ["A value of the wrong type."] }));
        }
    }

    static bool LooksLikeDate(string text) =>
        text.Length >= 10 && char.IsAsciiDigit(text[0]) && char.IsAsciiDigit(text[3]) && text[4] == '-' && text[7] == '-';

    /// <summary>The element a serializer path (<c>$.a.b[2]</c>, <c>$['x y']</c>) names, or null.</summary>
    static JsonElement? At(JsonElement root, string? path)
    {
        if (path is null || !path.StartsWith('$')) return null;
        var current = root;
        var i = 1;
        while (i < path.Length)
        {
            if (path[i] == '.')
            {
                var end = path.IndexOfAny(['.', '['], i + 1);
                if (end < 0) end = path.Length;
                if (current.ValueKind != JsonValueKind.Object || !current.TryGetProperty(path[(i + 1)..end], out current)) return null;
                i = end;
            }
            else if (path[i] == '[')
            {
                var close = path.IndexOf(']', i);
                if (close < 0) return null;
                var inner = path[(i + 1)..close];
                if (inner.StartsWith('\'') && inner.EndsWith('\'') && inner.Length >= 2)
                {
                    if (current.ValueKind != JsonValueKind.Object || !current.TryGetProperty(inner[1..^1], out current)) return null;
                }
                else if (int.TryParse(inner, System.Globalization.CultureInfo.InvariantCulture, out var index)
                    && current.ValueKind == JsonValueKind.Array && index < current.GetArrayLength())
                    current = current[index];
                else return null;
                i = close + 1;
            }
            else return null;
        }
        return current;
    }
}
