using System.Text.Json;
using Cdp.Shared.Customers;
using Cdp.Shared.Privacy;
using Cdp.Shared.Summaries;
using Cdp.Shared.Messaging;
using Cdp.Shared.Telemetry;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Cdp.Shared.Events;

/// <param name="Untrusted">Accepted events whose entity ids were dropped for want of a valid identityToken (publishable keys).</param>
public sealed record EventsAccepted(int Accepted, IReadOnlyList<EventRejection> Rejected, int Untrusted);

/// <summary>
/// POST /api/events: validates, then in one transaction publishes the valid events to event-stream (one message for
/// the request), records touchpoints for the events that name a known contact, lead
/// or account, and asks for those entities' summaries to be recalculated. The answer follows the commit, so an
/// accepted event is durable before the caller hears so.
/// </summary>
public sealed class AcceptEvents(
    NpgsqlDataSource db, IOptions<EventsOptions> options, CustomerViewCache views, SubjectHash hash, TimeProvider clock)
{
    public EventsOptions Options => options.Value;

    /// <param name="needIdentityToken">
    /// True for a publishable key (a web page): entity ids count only with a valid identityToken
    /// (<see cref="VerifyIdentityTokens"/>). Server API keys and staff are trusted with them.
    /// </param>
    public async Task<EventsAccepted> HandleAsync(ReadOnlyMemory<byte> body, bool needIdentityToken, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var batch = ValidateEvents.Validate(body.Span, options.Value.MaxEventsPerRequest, now);
        var (events, untrusted) = needIdentityToken ? VerifyIdentityTokens.Apply(batch.Events, options.Value.SiteSecret) : (batch.Events, 0);
        if (events.Count > 0) await StoreAsync(events, now, ct);
        return new EventsAccepted(batch.Accepted, batch.Rejected, untrusted);
    }

    public async Task StoreAsync(IReadOnlyList<ValidEvent> events, DateTimeOffset now, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        // PIPL: the userId leaves for the event-stream and ClickHouse only as its keyed hash.
        await PublishBatchAsync(conn, tx, [.. events.Select(e => EventRow.From(e, now) with { UserId = hash.UserId(e.UserId) })], ct);

        var named = events.Where(e => e.NamesAnEntity).ToList();
        List<(string Type, Guid Id)> entities = [];
        if (named.Count > 0)
        {
            entities = await InsertTouchpointsAsync(conn, tx, named, ct);
            await TopicPublisher.PublishManyAsync(conn, tx, Topics.SummaryCalculation,
                entities.Select(x => ($"{x.Type}:{x.Id}", new SummaryRecalculation(x.Type, x.Id, "event"))), ct);
        }
        await tx.CommitAsync(ct);
        // Their views list the new touchpoints now; the summaries and the ClickHouse counts follow (and delete again).
        await views.InvalidateAsync(entities.Select(x => new CustomerRef(x.Type, x.Id)));
    }

    /// <summary>
    /// The whole request as one event-stream message (a JSON array of ClickHouse rows, item_count = its length): one
    /// row in Postgres per request instead of one per event, which the writer then claims by rows. Keyed by the user
    /// hash when the request holds one user's events (the SDK's usual request), else by a key of its own so batches
    /// spread over a broker's partitions (the writer ignores key order: the ClickHouse table orders rows itself).
    /// An erasure rewrites the arrays that hold a subject's events (<see cref="Privacy.EraseSubject"/>).
    /// </summary>
    internal static async Task PublishBatchAsync(NpgsqlConnection conn, NpgsqlTransaction tx, IReadOnlyList<EventRow> rows, CancellationToken ct)
    {
        var key = rows.All(r => r.UserId == rows[0].UserId) ? rows[0].UserId : $"batch:{Guid.CreateVersion7():N}";
        await using var cmd = new NpgsqlCommand(
            "insert into topic_message (topic, message_key, payload, traceparent, item_count) values ($1, $2, $3, $4, $5)", conn, tx);
        cmd.Parameters.Add(new() { Value = Topics.EventStream });
        cmd.Parameters.Add(new() { Value = key });
        cmd.Parameters.Add(new() { Value = JsonSerializer.Serialize(rows, CdpJson.Options), NpgsqlDbType = NpgsqlDbType.Jsonb });
        cmd.Parameters.Add(new() { Value = (object?)CdpTelemetry.CurrentTraceParent ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = rows.Count });
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// Idempotent by event id (the touchpoint id is derived from it). Ids naming no row are left out rather than
    /// failing the batch: the SDK may know an id before ingestion has created it. Returns the entities of the
    /// touchpoints actually inserted, each once.
    /// </summary>
    static async Task<List<(string Type, Guid Id)>> InsertTouchpointsAsync(
        NpgsqlConnection conn, NpgsqlTransaction tx, List<ValidEvent> named, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            with e as (
                select * from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::timestamptz[], $6::text[], $7::text[], $8::text[], $9::text[])
                    with ordinality as t(touchpoint_id, contact_id, lead_id, account_id, at, type, event_id, user_id, properties, n)),
            r as (
                select e.touchpoint_id, c.contact_id, l.lead_id, a.account_id, e.at, e.type, e.event_id, e.user_id, e.properties, e.n from e
                  left join contact c on c.contact_id = e.contact_id
                  left join lead l on l.lead_id = e.lead_id
                  left join account a on a.account_id = e.account_id
                 where c.contact_id is not null or l.lead_id is not null or a.account_id is not null)
            insert into touchpoint (touchpoint_id, contact_id, lead_id, account_id, channel_id, touchpoint_time, touchpoint_type, details)
            select touchpoint_id, contact_id, lead_id, account_id, 'sdk', at, type,
                   jsonb_build_object('eventId', event_id, 'userId', user_id, 'properties', properties::jsonb) from r order by n
            on conflict do nothing
            returning contact_id, lead_id, account_id
            """, conn, tx);
        cmd.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = [.. named.Select(e => NameBasedGuid.Create(NameBasedGuid.EventNamespace, e.EventId))] });
        cmd.Parameters.Add(Ids(named.Select(e => e.ContactId)));
        cmd.Parameters.Add(Ids(named.Select(e => e.LeadId)));
        cmd.Parameters.Add(Ids(named.Select(e => e.AccountId)));
        cmd.Parameters.Add(new NpgsqlParameter<DateTimeOffset[]> { TypedValue = [.. named.Select(e => e.OccurredAt)] });
        cmd.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. named.Select(e => e.Type)] });
        // The details are built in the statement, for the events whose ids name a row only (often none of them do).
        cmd.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. named.Select(e => e.EventId)] });
        cmd.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. named.Select(e => e.UserId)] });
        cmd.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. named.Select(e => e.PropertiesJson)] });

        var entities = new List<(string, Guid)>();
        var seen = new HashSet<(string, Guid)>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            foreach (var (ordinal, type) in new[] { (0, "contact"), (1, "lead"), (2, "account") })
                if (!reader.IsDBNull(ordinal) && seen.Add((type, reader.GetGuid(ordinal)))) entities.Add((type, reader.GetGuid(ordinal)));
        }
        return entities;
    }

    static NpgsqlParameter Ids(IEnumerable<Guid?> ids) =>
        new NpgsqlParameter<Guid?[]> { TypedValue = [.. ids], NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid };
}
