using Cdp.Shared.Customers;
using Cdp.Shared.Privacy;
using Cdp.Shared.Messaging;
using Cdp.Shared.Storage;
using Cdp.Shared.Telemetry;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using static Cdp.Shared.Storage.SqlArrays;

namespace Cdp.Shared.Events;

/// <param name="Untrusted">Accepted events whose entity ids were dropped for want of a valid identityToken (publishable keys).</param>
public sealed record EventsAccepted(int Accepted, IReadOnlyList<EventRejection> Rejected, int Untrusted);

/// <summary>
/// POST /api/events: validates, then publishes the valid events to event-stream (one message for the request), records
/// touchpoints for the events that name a known contact, lead or account, and asks for those entities' summaries to be
/// recalculated, all in one transaction. The answer follows the commit, so an accepted event is durable before the
/// caller hears so.
/// Group commit: requests arriving together are written by one batch of statements in one round trip and one commit
/// (one fsync) instead of three round trips and a commit each; a batch that fails fails every request in it (none of
/// its writes stay), and each caller answers for its own request only after its batch committed.
/// </summary>
public sealed class AcceptEvents
{
    /// <summary>Events one commit takes (requests are never split; a request holds at most MaxEventsPerRequest).</summary>
    const int MaxEventsPerCommit = 8000;
    const int DefaultCommitters = 2;   // one batch's commit overlaps the next one's gathering

    readonly NpgsqlDataSource db;
    readonly IOptions<EventsOptions> options;
    readonly CustomerViewCache views;
    readonly SubjectHash hash;
    readonly TimeProvider clock;
    readonly MicroBatcher<Pending, bool> commits;

    public AcceptEvents(NpgsqlDataSource db, IOptions<EventsOptions> options, CustomerViewCache views, SubjectHash hash, TimeProvider clock)
        : this(db, options, views, hash, clock, DefaultCommitters) { }

    /// <param name="committerCount">Batches committing side by side (tests take one, so what they queue together commits together).</param>
    internal AcceptEvents(NpgsqlDataSource db, IOptions<EventsOptions> options, CustomerViewCache views, SubjectHash hash, TimeProvider clock, int committerCount)
    {
        this.db = db;
        this.options = options;
        this.views = views;
        this.hash = hash;
        this.clock = clock;
        commits = new(CommitAndInvalidateAsync, MaxEventsPerCommit, committerCount, weight: p => p.Events);
    }

    public EventsOptions Options => options.Value;

    /// <param name="needIdentityToken">
    /// True for a publishable key (a web page): entity ids count only with a valid identityToken
    /// (<see cref="VerifyIdentityTokens"/>). Server API keys and staff are trusted with them.
    /// </param>
    public async Task<EventsAccepted> HandleAsync(ReadOnlyMemory<byte> body, bool needIdentityToken, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var batch = ValidateEvents.Validate(body, options.Value.MaxEventsPerRequest, now);
        var (events, untrusted) = needIdentityToken ? VerifyIdentityTokens.Apply(batch.Events, options.Value.SiteSecret) : (batch.Events, 0);
        if (events.Count > 0) await StoreAsync(events, now, ct);
        return new EventsAccepted(batch.Accepted, batch.Rejected, untrusted);
    }

    /// <summary>
    /// Queues the request's events for the next group commit and waits for it. Not cancellable once queued: the write
    /// goes ahead, and a sender that gave up resends (event ids make the resend harmless).
    /// </summary>
    public Task StoreAsync(IReadOnlyList<ValidEvent> events, DateTimeOffset now, CancellationToken ct) =>
        commits.SubmitAsync(Prepare(events, now));

    /// <summary>
    /// PIPL: the userId leaves for the event-stream and ClickHouse only as its keyed hash. Serialised here, once, on the
    /// caller's thread: the committers only send.
    /// </summary>
    internal Pending Prepare(IReadOnlyList<ValidEvent> events, DateTimeOffset now)
    {
        var (payload, key) = EventRows.Write(events, e => hash.UserId(e.UserId), now);
        return new Pending(payload, key, events.Count, [.. events.Where(e => e.NamesAnEntity)], CdpTelemetry.CurrentTraceParent);
    }

    /// <summary>Queues all of <paramref name="requests"/> at once (tests: with one committer, one batch for sure).</summary>
    internal IReadOnlyList<Task> Queue(IEnumerable<Pending> requests) => commits.SubmitMany(requests);

    async Task<IReadOnlyList<bool>> CommitAndInvalidateAsync(IReadOnlyList<Pending> batch)
    {
        var entities = await CommitAsync(batch);
        // Their views list the new touchpoints now; the summaries and the ClickHouse counts follow (and delete again).
        await views.InvalidateAsync(entities.Select(x => new CustomerRef(x.Type, x.Id)));
        return [.. batch.Select(_ => true)];
    }

    /// <summary>
    /// One round trip: the requests' event-stream messages (one statement each, in arrival order), then the touchpoints
    /// and summary requests of all their named events (one statement), sent as one batch, which Postgres runs as one
    /// transaction and commits before it answers.
    /// </summary>
    internal async Task<List<(string Type, Guid Id)>> CommitAsync(IReadOnlyList<Pending> requests)
    {
        await using var conn = await db.OpenConnectionAsync();
        await using var batch = new NpgsqlBatch(conn);
        foreach (var p in requests) batch.BatchCommands.Add(PublishCommand(p.Key, p.Payload, p.Events, p.TraceParent));
        var named = requests.SelectMany(p => p.Named.Select(e => (Event: e, p.TraceParent))).ToList();
        if (named.Count > 0) batch.BatchCommands.Add(TouchpointsCommand(named));

        var entities = new List<(string, Guid)>();
        // Read to the end (disposing reads up to the commit's answer): an error of any statement fails the whole batch.
        await using (var reader = await batch.ExecuteReaderAsync())
        {
            do
            {
                if (reader.FieldCount == 2) while (await reader.ReadAsync()) entities.Add((reader.GetString(0), reader.GetGuid(1)));
            } while (await reader.NextResultAsync());
        }
        return entities;
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
        var (payload, key) = EventRows.Write(rows);
        await using var batch = new NpgsqlBatch(conn, tx) { BatchCommands = { PublishCommand(key, payload, rows.Count, CdpTelemetry.CurrentTraceParent) } };
        await batch.ExecuteNonQueryAsync(ct);
    }

    static NpgsqlBatchCommand PublishCommand(string key, ReadOnlyMemory<byte> payload, int items, string? traceParent) =>
        new("insert into topic_message (topic, message_key, payload, traceparent, item_count) values ($1, $2, $3, $4, $5)")
        {
            Parameters =
            {
                new() { Value = Topics.EventStream },
                new() { Value = key },
                new NpgsqlParameter<ReadOnlyMemory<byte>> { TypedValue = payload, NpgsqlDbType = NpgsqlDbType.Json },
                new() { Value = (object?)traceParent ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text },
                new() { Value = items },
            },
        };

    /// <summary>
    /// Idempotent by event id (the touchpoint id is derived from it; a repeat inside the statement is skipped by the
    /// same conflict clause). Ids naming no row are left out rather than failing the batch: the SDK may know an id
    /// before ingestion has created it. Publishes one summary-calculation message per entity of the touchpoints actually
    /// inserted (with the trace of the first request naming it) and returns those entities, each once.
    /// </summary>
    static NpgsqlBatchCommand TouchpointsCommand(List<(ValidEvent Event, string? TraceParent)> named) =>
        new("""
            with e as (
                select * from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::timestamptz[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
                    with ordinality as t(touchpoint_id, contact_id, lead_id, account_id, at, type, event_id, user_id, properties, traceparent, n)),
            r as (
                select e.touchpoint_id, c.contact_id, l.lead_id, a.account_id, e.at, e.type, e.event_id, e.user_id, e.properties, e.traceparent, e.n from e
                  left join contact c on c.contact_id = e.contact_id
                  left join lead l on l.lead_id = e.lead_id
                  left join account a on a.account_id = e.account_id
                 where c.contact_id is not null or l.lead_id is not null or a.account_id is not null),
            tp as (
                insert into touchpoint (touchpoint_id, contact_id, lead_id, account_id, channel_id, touchpoint_time, touchpoint_type, details)
                select touchpoint_id, contact_id, lead_id, account_id, 'sdk', at, type,
                       jsonb_build_object('eventId', event_id, 'userId', user_id, 'properties', properties::jsonb) from r order by n
                on conflict do nothing
                returning touchpoint_id),
            entity as (
                select x.type, x.id, min(r.n) as n, (array_agg(r.traceparent order by r.n))[1] as traceparent
                  from tp join r using (touchpoint_id)
                  cross join lateral (values ('contact', r.contact_id), ('lead', r.lead_id), ('account', r.account_id)) as x(type, id)
                 where x.id is not null
                 group by x.type, x.id),
            summary as (
                insert into topic_message (topic, message_key, payload, traceparent)
                select $11, type || ':' || id, json_build_object('entityType', type, 'entityId', id, 'reason', 'event'), traceparent
                  from entity order by n)
            select type, id from entity order by n
            """)
        {
            Parameters =
            {
                new NpgsqlParameter<Guid[]> { TypedValue = [.. named.Select(x => NameBasedGuid.Create(NameBasedGuid.EventNamespace, x.Event.EventId))] },
                Ids(named.Select(x => x.Event.ContactId)),
                Ids(named.Select(x => x.Event.LeadId)),
                Ids(named.Select(x => x.Event.AccountId)),
                new NpgsqlParameter<DateTimeOffset[]> { TypedValue = [.. named.Select(x => x.Event.OccurredAt)] },
                new NpgsqlParameter<string[]> { TypedValue = [.. named.Select(x => x.Event.Type)] },
                // The details are built in the statement, for the events whose ids name a row only (often none of them do).
                new NpgsqlParameter<string[]> { TypedValue = [.. named.Select(x => x.Event.EventId)] },
                new NpgsqlParameter<string[]> { TypedValue = [.. named.Select(x => x.Event.UserId)] },
                new NpgsqlParameter<string[]> { TypedValue = [.. named.Select(x => x.Event.PropertiesJson)] },
                Texts(named.Select(x => x.TraceParent)),
                new NpgsqlParameter<string> { TypedValue = Topics.SummaryCalculation },
            },
        };

    static NpgsqlParameter Ids(IEnumerable<Guid?> ids) =>
        new NpgsqlParameter<Guid?[]> { TypedValue = [.. ids], NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid };

    /// <summary>One request waiting for its group commit.</summary>
    internal sealed record Pending(ReadOnlyMemory<byte> Payload, string Key, int Events, ValidEvent[] Named, string? TraceParent);
}
