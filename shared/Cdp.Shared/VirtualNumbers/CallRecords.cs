using System.Globalization;
using System.Text.Json;
using Cdp.Shared.Api;
using Cdp.Shared.Customers;
using Cdp.Shared.Events;
using Cdp.Shared.Messaging;
using Cdp.Shared.Summaries;
using Dapper;
using Npgsql;

namespace Cdp.Shared.VirtualNumbers;

/// <summary>
/// One call as the provider pushes it (Alibaba's secret call report, FACTS.md): phone_no and peer_no are the real
/// parties (call_type 0: phone_no called), secret_no the X number, start_time = release_time when unanswered.
/// </summary>
public sealed record CallRecord(
    string CallId, string? SubId, string? PhoneNo, string? SecretNo, string? PeerNo, string? CallType,
    DateTimeOffset? CallTime, DateTimeOffset? StartTime, DateTimeOffset? ReleaseTime, string? ReleaseCause, string? OutId, string? RecordUrl)
{
    public bool Answered => StartTime is { } s && ReleaseTime is { } r && r > s;

    public int DurationSeconds => Answered ? (int)Math.Round((ReleaseTime!.Value - StartTime!.Value).TotalSeconds) : 0;

    /// <summary>Who dialled: phone_no for call_type 0, else peer_no.</summary>
    public string? Caller => CallType == "0" ? PhoneNo : PeerNo;
}

/// <summary>What <c>POST /api/ingest/calls</c> answers (202).</summary>
public sealed record CallsAccepted(int Accepted, int Duplicates, int Unmatched);

/// <summary>
/// Call records -> touchpoints (type <c>call</c>, channel <c>calls</c>) on the 360 of the contact whose real number
/// took part, then the contact's summary (and through it scoring) recalculated. The contact is the binding's (OutId
/// is our binding id), else the one whose mobile is the binding's A, else the one whose mobile is phone_no or peer_no.
/// Provenance rule: secret_no, and any number that ever arrived as an X, is never matched to anyone.
/// Idempotent by call_id.
/// </summary>
public sealed class CallRecords(NpgsqlDataSource db, CustomerViewCache views)
{
    public const int MaxRecords = 500;
    public const string TouchpointType = "call";
    public const string Channel = "calls";
    static readonly Guid CallNamespace = new("b0c4c7a1-3f55-5e7e-9a61-2f1f0c5d9e11");
    static readonly TimeSpan ChinaOffset = TimeSpan.FromHours(8);

    /// <summary>A JSON array of records (or one object): 400 unparsable, 422 naming the record and field.</summary>
    public static IReadOnlyList<CallRecord> Read(ReadOnlyMemory<byte> body)
    {
        using var doc = JsonText.Parse(body, 8);
        var root = doc.RootElement;
        var items = root.ValueKind switch
        {
            JsonValueKind.Array => root.EnumerateArray().ToList(),
            JsonValueKind.Object => [root],
            _ => throw new ApiProblemException(ApiProblem.BadRequest("The body must be a JSON array of call records.")),
        };
        if (items.Count > MaxRecords) throw ApiProblemException.Invalid("body", $"At most {MaxRecords} call records per push.");
        var errors = new Dictionary<string, string[]>();
        var records = new List<CallRecord>();
        for (var i = 0; i < items.Count; i++)
        {
            var item = items[i];
            if (item.ValueKind != JsonValueKind.Object) { errors[$"[{i}]"] = ["Must be an object."]; continue; }
            var callId = Text(item, "call_id");
            if (callId is null || callId.Length > 100) { errors[$"[{i}].call_id"] = ["Required: at most 100 characters."]; continue; }
            var recordUrl = Text(item, "record_url");
            if (recordUrl is { Length: > 1000 }) { errors[$"[{i}].record_url"] = ["At most 1000 characters."]; continue; }
            records.Add(new CallRecord(callId, Text(item, "sub_id"), Digits(Text(item, "phone_no")), Digits(Text(item, "secret_no")), Digits(Text(item, "peer_no")),
                Text(item, "call_type"), Time(item, "call_time"), Time(item, "start_time"), Time(item, "release_time"), Text(item, "release_cause"),
                Text(item, "out_id"), recordUrl));
        }
        if (errors.Count > 0) throw new ApiProblemException(ApiProblem.Unprocessable(errors));
        return records;
    }

    public async Task<CallsAccepted> AcceptAsync(IReadOnlyList<CallRecord> records, CancellationToken ct)
    {
        int accepted = 0, duplicates = 0, unmatched = 0;
        var touched = new List<CustomerRef>();
        await using var conn = await db.OpenConnectionAsync(ct);
        foreach (var call in records)
        {
            await using var tx = await conn.BeginTransactionAsync(ct);
            if (call.SecretNo is { Length: > 0 } x)
                await conn.ExecuteAsync(new CommandDefinition("insert into virtual_number_seen (number) values (@x) on conflict do nothing", new { x }, tx, cancellationToken: ct));
            var contactId = await ContactOfAsync(conn, tx, call, ct);
            var bindingId = Guid.TryParse(call.OutId, out var outId) ? outId : (Guid?)null;
            var touchpointId = contactId is null ? (Guid?)null : NameBasedGuid.Create(CallNamespace, call.CallId);
            var inserted = await conn.ExecuteAsync(new CommandDefinition("""
                insert into call_record (call_id, binding_id, contact_id, touchpoint_id) values (@CallId, @bindingId, @contactId, @touchpointId)
                on conflict (call_id) do nothing
                """, new { call.CallId, bindingId, contactId, touchpointId }, tx, cancellationToken: ct));
            if (inserted == 0) { duplicates++; await tx.RollbackAsync(ct); continue; }
            if (contactId is not { } contact)
            {
                unmatched++;
                await tx.CommitAsync(ct);
                continue;
            }
            var customer = await CustomerNumberAsync(conn, tx, contact, ct);
            var details = JsonSerializer.Serialize(new
            {
                callId = call.CallId,
                direction = call.Caller is { } caller && caller == customer ? "inbound" : "outbound",
                answered = call.Answered,
                durationSeconds = call.DurationSeconds,
                recordingUrl = call.RecordUrl,
                virtualNumber = call.SecretNo,
                releaseCause = call.ReleaseCause,
                bindingId,
            }, CdpJson.Options);
            await conn.ExecuteAsync(new CommandDefinition("""
                insert into touchpoint (touchpoint_id, contact_id, account_id, channel_id, touchpoint_time, touchpoint_type, details)
                select @touchpointId, c.contact_id, c.primary_account_id, 'calls', @at, 'call', @details::jsonb from contact c where c.contact_id = @contact
                on conflict do nothing
                """, new { touchpointId, contact, at = (call.StartTime ?? call.CallTime ?? call.ReleaseTime ?? DateTimeOffset.UtcNow).UtcDateTime, details }, tx, cancellationToken: ct));
            await TopicPublisher.PublishAsync(conn, tx, Topics.SummaryCalculation, $"contact:{contact}", new SummaryRecalculation(CustomerRef.ContactKind, contact, "call"), ct);
            await tx.CommitAsync(ct);
            accepted++;
            touched.Add(new CustomerRef(CustomerRef.ContactKind, contact));
        }
        if (touched.Count > 0) await views.InvalidateAsync(touched);
        return new CallsAccepted(accepted, duplicates, unmatched);
    }

    /// <summary>The binding's contact, else a contact whose mobile is a real party's number (never an X number).</summary>
    static async Task<Guid?> ContactOfAsync(NpgsqlConnection conn, NpgsqlTransaction tx, CallRecord call, CancellationToken ct)
    {
        var outId = Guid.TryParse(call.OutId, out var id) ? id : Guid.Empty;
        var binding = await conn.QueryFirstOrDefaultAsync<(Guid? ContactId, string? PhoneA)?>(new CommandDefinition("""
            select contact_id, phone_a from virtual_binding where binding_id = @outId or (@subId::text is not null and subs_id = @subId)
            order by (binding_id = @outId) desc limit 1
            """, new { outId, subId = call.SubId }, tx, cancellationToken: ct));
        if (binding?.ContactId is { } bound) return bound;
        var candidates = new[] { binding?.PhoneA, call.PhoneNo, call.PeerNo }
            .Where(n => n is { Length: > 0 } && n != call.SecretNo).Distinct().ToArray();
        if (candidates.Length == 0) return null;
        return await conn.QueryFirstOrDefaultAsync<Guid?>(new CommandDefinition("""
            select c.contact_id from contact c
             where c.mobile_phone = any(@candidates)
               and not exists (select 1 from virtual_number_seen s where s.number = c.mobile_phone)
             order by array_position(@candidates, c.mobile_phone) limit 1
            """, new { candidates }, tx, cancellationToken: ct));
    }

    static Task<string?> CustomerNumberAsync(NpgsqlConnection conn, NpgsqlTransaction tx, Guid contact, CancellationToken ct) =>
        conn.QuerySingleOrDefaultAsync<string?>(new CommandDefinition("select mobile_phone from contact where contact_id = @contact", new { contact }, tx, cancellationToken: ct));

    static string? Text(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var p) ? p.ValueKind switch
        {
            JsonValueKind.String => p.GetString() is { Length: > 0 } s ? s.Trim() : null,
            JsonValueKind.Number => p.GetRawText(),
            _ => null,
        } : null;

    /// <summary>Numbers as digits only (a +86 prefix dropped), so they compare with the canonical mobile.</summary>
    static string? Digits(string? raw)
    {
        if (raw is null) return null;
        var digits = new string(raw.Where(char.IsAsciiDigit).ToArray());
        if (digits.Length == 13 && digits.StartsWith("86", StringComparison.Ordinal)) digits = digits[2..];
        return digits.Length is > 0 and <= 20 ? digits : null;
    }

    /// <summary>"yyyy-MM-dd HH:mm:ss" in Beijing time, as the provider writes it, or ISO 8601.</summary>
    static DateTimeOffset? Time(JsonElement obj, string name)
    {
        var text = Text(obj, name);
        if (text is null) return null;
        if (DateTime.TryParseExact(text, "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.None, out var local))
            return new DateTimeOffset(local, ChinaOffset);
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : null;
    }
}
