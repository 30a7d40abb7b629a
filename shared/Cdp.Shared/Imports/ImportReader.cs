using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Cdp.Shared.Api;

namespace Cdp.Shared.Imports;

/// <summary>How an import body is written: one JSON record envelope per line, or CSV with a header row.</summary>
public enum ImportFormat
{
    Ndjson,
    Csv,
}

/// <summary>One record of an import body as staged: its JSON envelope, or why it could not even be read.</summary>
/// <param name="LineNo">The (1-based) line the record starts on.</param>
public readonly record struct ImportLine(int LineNo, string? Payload, string? ReadError);

/// <summary>
/// Reads an import body record by record while it streams in, never holding more than one record: strict UTF-8 (a
/// byte sequence that is not UTF-8 ends the import with 400), NDJSON lines as they are, CSV records (RFC 4180: quoted
/// fields, doubled quotes, line breaks inside quotes) turned into the same envelope the crm/erp webhooks take,
/// <c>{"sourceId","objectType","modifiedAt","fields":{...}}</c>. A record that is too long or holds a NUL character is
/// kept as a read error (that row is rejected, not the import); JSON itself is read later, chunk by chunk.
/// </summary>
public static class ImportReader
{
    public const string NdjsonMediaType = "application/x-ndjson";
    public const string CsvMediaType = "text/csv";

    /// <summary>The CSV columns that make the envelope; every other column is a source field.</summary>
    public static readonly string[] EnvelopeColumns = ["sourceId", "objectType", "modifiedAt"];

    static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The format a Content-Type names, or null (415).</summary>
    public static ImportFormat? FormatOf(string? contentType)
    {
        var media = contentType?.Split(';')[0].Trim();
        if (string.Equals(media, NdjsonMediaType, StringComparison.OrdinalIgnoreCase)
            || string.Equals(media, "application/jsonl", StringComparison.OrdinalIgnoreCase)) return ImportFormat.Ndjson;
        if (string.Equals(media, CsvMediaType, StringComparison.OrdinalIgnoreCase)) return ImportFormat.Csv;
        return null;
    }

    public static IAsyncEnumerable<ImportLine> ReadAsync(Stream body, ImportFormat format, int maxRecordChars, CancellationToken ct) =>
        format == ImportFormat.Csv ? ReadCsvAsync(body, maxRecordChars, ct) : ReadNdjsonAsync(body, maxRecordChars, ct);

    static async IAsyncEnumerable<ImportLine> ReadNdjsonAsync(Stream body, int maxChars, [EnumeratorCancellation] CancellationToken ct)
    {
        var chars = new Chars(body);
        var line = new StringBuilder();
        var lineNo = 0;
        var tooLong = false;
        while (true)
        {
            // A buffer at a time: find the line's end with a vectorised search, copy the line's part at once.
            var ended = chars.Buffered == 0 && !await chars.FillAsync(ct);
            var complete = ended;
            if (!ended)
            {
                var available = chars.Available;
                var newline = available.Span.IndexOf('\n');
                var part = newline < 0 ? available : available[..newline];
                if (line.Length + part.Length <= maxChars) line.Append(part);
                else tooLong = true;
                chars.Advance(newline < 0 ? available.Length : newline + 1);
                complete = newline >= 0;
            }
            if (!complete) continue;
            lineNo++;
            if (tooLong) yield return new(lineNo, null, $"The line is longer than {maxChars} characters.");
            else if (Record(line, out var error) is { } record) yield return new(lineNo, error is null ? record : null, error);
            line.Clear();
            tooLong = false;
            if (ended) yield break;
        }

        static string? Record(StringBuilder line, out string? error)
        {
            error = null;
            var end = line.Length;
            while (end > 0 && char.IsWhiteSpace(line[end - 1])) end--;
            var start = 0;
            while (start < end && char.IsWhiteSpace(line[start])) start++;
            if (start == end) return null;   // a blank line is no record
            var text = line.ToString(start, end - start);
            if (text.Contains('\0', StringComparison.Ordinal))
            {
                error = "The line holds a NUL character (U+0000), which no field may hold.";
                return "";
            }
            return text;
        }
    }

    static async IAsyncEnumerable<ImportLine> ReadCsvAsync(Stream body, int maxChars, [EnumeratorCancellation] CancellationToken ct)
    {
        var chars = new Chars(body);
        var lineNo = 1;
        string[]? header = null;
        int[] fieldColumns = [];
        int sourceId = -1, objectType = -1, modifiedAt = -1;
        var fields = new List<string>();
        var field = new StringBuilder();
        while (true)
        {
            var startLine = lineNo;
            var (end, length) = await ReadRecordAsync(chars, fields, field, maxChars, () => lineNo++, ct);
            if (fields.Count == 1 && fields[0].Length == 0 && length == 0)
            {
                if (end) yield break;
                continue;   // a blank line
            }
            if (header is null)
            {
                header = [.. fields.Select(f => f.Trim())];
                if (header.Length > 0 && header[0].StartsWith('\uFEFF')) header[0] = header[0][1..];
                sourceId = Array.IndexOf(header, "sourceId");
                objectType = Array.IndexOf(header, "objectType");
                modifiedAt = Array.IndexOf(header, "modifiedAt");
                if (sourceId < 0 || objectType < 0 || modifiedAt < 0)
                    throw new ApiProblemException(ApiProblem.BadRequest(
                        $"The CSV header row must name the columns {string.Join(", ", EnvelopeColumns)} beside the crm/erp field names."));
                fieldColumns = [.. Enumerable.Range(0, header.Length).Where(i => i != sourceId && i != objectType && i != modifiedAt && header[i].Length > 0)];
            }
            else if (length > maxChars) yield return new(startLine, null, $"The record is longer than {maxChars} characters.");
            else if (fields.Count != header.Length) yield return new(startLine, null, $"The record has {fields.Count} fields; the header has {header.Length}.");
            else if (fields.Any(f => f.Contains('\0', StringComparison.Ordinal))) yield return new(startLine, null, "The record holds a NUL character (U+0000), which no field may hold.");
            else yield return new(startLine, Envelope(fields, header, fieldColumns, sourceId, objectType, modifiedAt), null);
            if (end) yield break;
        }
    }

    /// <summary>Reads one CSV record into <paramref name="fields"/>; says whether the body ended and how many characters the record had.</summary>
    static async Task<(bool End, int Length)> ReadRecordAsync(
        Chars chars, List<string> fields, StringBuilder field, int maxChars, Action newLine, CancellationToken ct)
    {
        fields.Clear();
        field.Clear();
        var quoted = false;
        var closed = false;   // the last character closed a quoted field: a quote now is an escaped one ("")
        var length = 0;
        while (true)
        {
            var c = await chars.NextAsync(ct);
            if (c == -1)
            {
                fields.Add(field.ToString());
                return (true, length);
            }
            length++;
            if (quoted)
            {
                if (c == '"') { quoted = false; closed = true; }
                else
                {
                    if (c == '\n') newLine();
                    Append((char)c);
                }
                continue;
            }
            var wasClosed = closed;
            closed = false;
            switch (c)
            {
                case '"' when wasClosed:
                    Append('"');
                    quoted = true;
                    break;
                case '"' when field.Length == 0:
                    quoted = true;
                    break;
                case ',':
                    fields.Add(field.ToString());
                    field.Clear();
                    break;
                case '\r':
                    break;
                case '\n':
                    newLine();
                    fields.Add(field.ToString());
                    return (false, length - 1);
                default:
                    Append((char)c);
                    break;
            }
        }

        void Append(char c)
        {
            if (field.Length < maxChars) field.Append(c);
        }
    }

    static string Envelope(List<string> fields, string[] header, int[] fieldColumns, int sourceId, int objectType, int modifiedAt)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("sourceId", fields[sourceId].Trim());
            json.WriteString("objectType", fields[objectType].Trim());
            json.WriteString("modifiedAt", fields[modifiedAt].Trim());
            json.WriteStartObject("fields");
            foreach (var i in fieldColumns)
            {
                if (!string.IsNullOrWhiteSpace(fields[i])) json.WriteString(header[i], fields[i]);
            }
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Characters of a UTF-8 stream, one at a time, from a buffer; invalid UTF-8 is a 400.</summary>
    sealed class Chars(Stream body)
    {
        readonly StreamReader reader = new(body, StrictUtf8, detectEncodingFromByteOrderMarks: false, bufferSize: 64 * 1024, leaveOpen: true);
        readonly char[] buffer = new char[32 * 1024];
        int position;
        int count;
        bool first = true;

        public ValueTask<int> NextAsync(CancellationToken ct) =>
            position < count ? ValueTask.FromResult<int>(buffer[position++]) : RefillAndTakeAsync(ct);

        /// <summary>Characters buffered and not taken yet.</summary>
        public int Buffered => count - position;

        public ReadOnlyMemory<char> Available => buffer.AsMemory(position, count - position);

        public void Advance(int n) => position += n;

        async ValueTask<int> RefillAndTakeAsync(CancellationToken ct) => await FillAsync(ct) ? buffer[position++] : -1;

        /// <summary>Reads the next buffer; false at the end of the body.</summary>
        public async ValueTask<bool> FillAsync(CancellationToken ct)
        {
            try
            {
                count = await reader.ReadAsync(buffer.AsMemory(), ct);
            }
            catch (DecoderFallbackException)
            {
                throw new ApiProblemException(ApiProblem.BadRequest("The body is not valid UTF-8."));
            }
            position = 0;
            if (count == 0) return false;
            if (first)
            {
                first = false;
                if (buffer[0] == '\uFEFF') position = 1;   // a byte order mark is no part of the first record
                if (position >= count) return await FillAsync(ct);
            }
            return true;
        }
    }
}
