using Cdp.Shared.Access;
using Cdp.Shared.Cleansing;
using Cdp.Shared.Ingestion;
using Cdp.Shared.Summaries;
using Cdp.Shared.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Cdp.Shared.Identity;

/// <summary>
/// Matches a cleansed record to the lead, contact or account it is about, creating or merging, and records the
/// outcome on its ingestion receipt in the same transaction. Safe to call again for the same ingestion id
/// (at-least-once delivery) and from several hosts at once: every natural key of the record is advisory-locked
/// first, so two records of one person or company are resolved one after the other.
/// </summary>
public sealed partial class IdentityResolver(NpgsqlDataSource db, IOptions<IdentityOptions> options, ILogger<IdentityResolver>? logger = null)
{
    /// <summary>Attempts per record on a unique violation or deadlock; tests set 1 to prove the locks alone suffice.</summary>
    internal int MaxAttempts { get; init; } = 3;

    public async Task<ResolutionOutcome> ResolveAsync(
        Guid ingestionId, CleanRecord record, ReviewDecision? decision, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(record);
        using var span = CdpTelemetry.Start("identity resolve");
        span?.SetTag("cdp.record.kind", record.Record.Kind.ToString().ToLowerInvariant());
        for (var attempt = 1; ; attempt++)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            await using var tx = await conn.BeginTransactionAsync(ct);
            try
            {
                var outcome = await ResolveAsync(conn, tx, ingestionId, record, decision, reprocessReview: false, ct);
                await tx.CommitAsync(ct);
                span?.SetTag("cdp.identity.outcome", Count(record, outcome));
                return outcome;
            }
            catch (PostgresException e) when (attempt < MaxAttempts && IsRetryable(e))
            {
                // A writer outside identity resolution (no advisory locks) took a unique value first, or a
                // deadlock was broken: the transaction rolled back, so simply resolve again.
            }
        }
    }

    /// <summary>
    /// Provenance rule (FACTS.md, privacy numbers): a number that ever arrived as an X is never anyone's identity, so a
    /// record carrying one as its mobile or phone (a CRM user who copied the caller id) neither matches nor stores it.
    /// </summary>
    static async Task<CleanRecord> WithoutVirtualNumbersAsync(NpgsqlConnection conn, NpgsqlTransaction tx, CleanRecord record)
    {
        var r = record.Record;
        var mobileIsX = r.Mobile is { } mobile && await VirtualNumbers.BindingStore.IsVirtualNumberAsync(conn, tx, mobile);
        var phoneIsX = r.Phone is { } phone && await VirtualNumbers.BindingStore.IsVirtualNumberAsync(conn, tx, phone);
        return WithoutNumbers(record, mobileIsX, phoneIsX);
    }

    static CleanRecord WithoutNumbers(CleanRecord record, bool mobileIsX, bool phoneIsX) =>
        mobileIsX || phoneIsX
            ? record with { Record = record.Record with { Mobile = mobileIsX ? null : record.Record.Mobile, Phone = phoneIsX ? null : record.Record.Phone } }
            : record;

    /// <summary>The outcome counter; returns the outcome's name.</summary>
    static string Count(CleanRecord record, ResolutionOutcome outcome)
    {
        var result = outcome.Status == ResolutionOutcome.Review ? "review" : outcome.Created ? "created" : "merged";
        CdpTelemetry.IdentityOutcomes.Add(1, new KeyValuePair<string, object?>("rule", record.Record.Kind.ToString().ToLowerInvariant()),
            new KeyValuePair<string, object?>("outcome", result));
        return result;
    }

    /// <summary>
    /// Runs inside the caller's transaction, so a review's resolution and the record's outcome commit together.
    /// <paramref name="reprocessReview"/> lets a receipt waiting in review be processed (with a decision).
    /// </summary>
    internal async Task<ResolutionOutcome> ResolveAsync(
        NpgsqlConnection conn, NpgsqlTransaction tx, Guid ingestionId, CleanRecord record, ReviewDecision? decision,
        bool reprocessReview, CancellationToken ct) =>
        await ResolveFilteredAsync(conn, tx, ingestionId, await WithoutVirtualNumbersAsync(conn, tx, record), decision, reprocessReview, ct);

    /// <summary>
    /// The resolution of a record whose virtual numbers are already dropped. In a batch (<paramref name="batch"/>
    /// given) the keys are locked already and the statements stay queued for the batch to send.
    /// </summary>
    async Task<ResolutionOutcome> ResolveFilteredAsync(
        NpgsqlConnection conn, NpgsqlTransaction tx, Guid ingestionId, CleanRecord record, ReviewDecision? decision,
        bool reprocessReview, CancellationToken ct, Pending? batch = null, Known? known = null)
    {
        var run = new Run(conn, tx, ingestionId, record, options.Value.FuzzyThreshold, ct, batch, known);
        var receipt = known?.Receipt ?? await run.SingleOrDefault<ReceiptRow>(ReceiptSql, new { ids = new[] { ingestionId } })
            ?? throw new InvalidOperationException($"Ingestion receipt {ingestionId} does not exist; ingest writes it before publishing.");
        if (receipt.Status == ResolutionOutcome.Processed || (receipt.Status == ResolutionOutcome.Review && !reprocessReview))
        {
            return receipt.ToOutcome();
        }

        if (batch is null)
        {
            run.Lock(IdentityKeys.For(record));
        }
        var outcome = record.Record.Kind switch
        {
            EntityKind.Account => await run.ResolveAccountRecord(decision),
            EntityKind.Contact => await run.ResolveContact(decision),
            EntityKind.Lead => await run.ResolveLead(),
            _ => throw new ArgumentOutOfRangeException(nameof(record), record.Record.Kind, "Unknown record kind."),
        };

        if (outcome.Status == ResolutionOutcome.Review)
        {
            run.Write(ReceiptReview, ingestionId, outcome.EntityType, outcome.ReviewId);
        }
        else
        {
            run.Write(ReceiptProcessed, ingestionId, outcome.EntityType, outcome.EntityId, outcome.AccountId, outcome.Created);
            // The entity is new or changed: its summary follows (a contact's in turn re-queues its accounts').
            run.Publish(new SummaryRecalculation(outcome.EntityType, outcome.EntityId!.Value, outcome.Created ? "created" : "updated"));
            // Who may see the entity (WeCom followers, CRM owner) commits with it.
            foreach (var command in CustomerOwners.OfRecord(record.Record, outcome.EntityType, outcome.EntityId.Value)) run.Enqueue(command);
        }

        // The entity writes of the rules are still queued: they go out together with the receipt update (in a batch,
        // with the next record's first read).
        if (batch is null)
        {
            await run.Flush();
        }

        return outcome;
    }

    static readonly RowWrite ReceiptReview = new(WriteRank.ReceiptReview, """
        update ingestion_receipt r set status = 'review', entity_type = w.entity_type, review_id = w.review_id,
               entity_id = null, account_id = null, entity_created = null
        from unnest(@ingestion_id, @entity_type, @review_id) as w(ingestion_id, entity_type, review_id)
        where r.ingestion_id = w.ingestion_id
        """, ("ingestion_id", NpgsqlDbType.Uuid), ("entity_type", NpgsqlDbType.Text), ("review_id", NpgsqlDbType.Uuid));

    static readonly RowWrite ReceiptProcessed = new(WriteRank.ReceiptProcessed, """
        update ingestion_receipt r set status = 'processed', processed_at = now(), entity_type = w.entity_type,
               entity_id = w.entity_id, account_id = w.account_id, entity_created = w.created
        from unnest(@ingestion_id, @entity_type, @entity_id, @account_id, @created)
             as w(ingestion_id, entity_type, entity_id, account_id, created)
        where r.ingestion_id = w.ingestion_id
        """, ("ingestion_id", NpgsqlDbType.Uuid), ("entity_type", NpgsqlDbType.Text), ("entity_id", NpgsqlDbType.Uuid),
        ("account_id", NpgsqlDbType.Uuid), ("created", NpgsqlDbType.Boolean));

    /// <summary>
    /// Finds or creates the contact <paramref name="person"/> (a contact record) describes, and the account of its
    /// company, inside the caller's transaction, with the same contact and account rules and the same advisory locks
    /// as ingestion; the contact is linked to the account. For callers that hold the person already (lead conversion):
    /// the source-record rules do not apply, no channel identity is recorded (the caller knows which identities the
    /// person has), and nothing goes to the review queue — an ambiguous company comes back as its candidates, with
    /// nothing written. <paramref name="accountId"/> picks the account instead of the account rules
    /// (<see cref="ReviewTargetNotFoundException"/> when it does not exist).
    /// </summary>
    public async Task<PersonResolution> FindOrCreatePersonAsync(
        NpgsqlConnection conn, NpgsqlTransaction tx, CleanRecord person, Guid? accountId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(person);
        if (person.Record.Kind != EntityKind.Contact)
        {
            throw new ArgumentException("A person is resolved as a contact record.", nameof(person));
        }

        var run = new Run(conn, tx, Guid.Empty, person, options.Value.FuzzyThreshold, ct);
        run.Lock(IdentityKeys.For(person));
        return await run.ResolvePerson(accountId);
    }

    /// <summary>Unique violations and deadlocks: the transaction rolled back and may simply run again.</summary>
    public static bool IsRetryable(PostgresException e) =>
        e.SqlState is PostgresErrorCodes.UniqueViolation or PostgresErrorCodes.DeadlockDetected
            or PostgresErrorCodes.SerializationFailure;

    /// <summary>Receipts locked in id order; the row lock also serialises two deliveries of the same message.</summary>
    const string ReceiptSql = """
        select ingestion_id as IngestionId, status as Status, entity_type as EntityType, entity_id as EntityId,
               account_id as AccountId, review_id as ReviewId, entity_created as EntityCreated
        from ingestion_receipt where ingestion_id = any(@ids) order by ingestion_id for update
        """;

    private sealed class ReceiptRow
    {
        public Guid IngestionId { get; set; }
        public string Status { get; set; } = "";
        public string? EntityType { get; set; }
        public Guid? EntityId { get; set; }
        public Guid? AccountId { get; set; }
        public Guid? ReviewId { get; set; }
        public bool? EntityCreated { get; set; }

        /// <summary>Not yet resolved (a receipt waiting in review is only taken up again with a decision).</summary>
        public bool IsOpen => Status != ResolutionOutcome.Processed && Status != ResolutionOutcome.Review;

        public ResolutionOutcome ToOutcome() =>
            new(Status, EntityType ?? "", EntityId, AccountId, ReviewId, EntityCreated ?? false);
    }
}
