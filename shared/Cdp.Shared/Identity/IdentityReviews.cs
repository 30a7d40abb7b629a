using Cdp.Shared.Access;
using Cdp.Shared.Customers;
using Dapper;
using Npgsql;
using static Cdp.Shared.Storage.DbTime;

namespace Cdp.Shared.Identity;

/// <summary>A record waiting for a person to say which account it belongs to.</summary>
public sealed record IdentityReviewItem(
    Guid ReviewId,
    Guid IngestionId,
    string EntityType,
    Cleansing.CleanRecord Record,
    IReadOnlyList<AccountCandidate> Candidates,
    string Status,
    DateTimeOffset CreatedAt,
    string? Decision,
    Guid? TargetId,
    Guid? ResolvedEntityId,
    DateTimeOffset? ResolvedAt,
    string? ResolvedBy = null)
{
    /// <summary>As a caller without pii:reveal sees it: the incoming record masked (the candidates are companies).</summary>
    public IdentityReviewItem Masked() => this with { Record = Record with { Record = Record.Record.Masked() } };
}

/// <summary>What resolving a review came to; the HTTP layer maps each case to a status code.</summary>
public abstract record ResolveReviewResult
{
    private ResolveReviewResult()
    {
    }

    /// <summary>200: the record was processed with the decision.</summary>
    public sealed record Resolved(ResolutionOutcome Outcome) : ResolveReviewResult;

    /// <summary>404: no such review.</summary>
    public sealed record NotFound : ResolveReviewResult;

    /// <summary>409: somebody already resolved it.</summary>
    public sealed record Conflict(string Message) : ResolveReviewResult;

    /// <summary>400: the decision cannot be carried out (the merge target does not exist).</summary>
    public sealed record Invalid(string Message) : ResolveReviewResult;
}

/// <summary>The identity review queue: ambiguous account matches, never auto-merged, resolved by a person.</summary>
public sealed class IdentityReviews(NpgsqlDataSource db, IdentityResolver resolver, CustomerViewCache views)
{
    public const string Open = "open";
    public const string Resolved = "resolved";

    /// <summary>Reviews in <paramref name="status"/> ("open" or "resolved"), oldest first.</summary>
    public async Task<IReadOnlyList<IdentityReviewItem>> ListAsync(string status, int limit, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var rows = await conn.QueryAsync<ReviewRow>(new CommandDefinition("""
            select review_id as ReviewId, ingestion_id as IngestionId, entity_type as EntityType, record::text as Record,
                   candidates::text as Candidates, status as Status, created_at as CreatedAt, decision as Decision,
                   target_id as TargetId, resolved_entity_id as ResolvedEntityId, resolved_at as ResolvedAt,
                   resolved_by as ResolvedBy
            from identity_review where status = @status
            order by created_at, review_id limit @limit
            """, new { status, limit = Math.Clamp(limit, 1, 1000) }, cancellationToken: ct));
        return [.. rows.Select(r => r.ToItem())];
    }

    /// <summary>
    /// Processes the stored record again with <paramref name="decision"/> and closes the review, in one
    /// transaction: the receipt goes from review to processed exactly when the review is marked resolved by
    /// <paramref name="actor"/>, and the audit row is written.
    /// </summary>
    public async Task<ResolveReviewResult> ResolveAsync(Guid reviewId, ReviewDecision decision, AuditActor actor, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(decision);
        ArgumentNullException.ThrowIfNull(actor);
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);

        // The row lock makes a second, concurrent resolution wait and then see "resolved".
        var row = await conn.QuerySingleOrDefaultAsync<ReviewRow>(new CommandDefinition("""
            select review_id as ReviewId, ingestion_id as IngestionId, entity_type as EntityType, record::text as Record,
                   candidates::text as Candidates, status as Status, created_at as CreatedAt
            from identity_review where review_id = @reviewId for update
            """, new { reviewId }, tx, cancellationToken: ct));
        if (row is null)
        {
            return new ResolveReviewResult.NotFound();
        }

        if (row.Status != Open)
        {
            return new ResolveReviewResult.Conflict($"Review {reviewId} is already {row.Status}.");
        }

        ResolutionOutcome outcome;
        try
        {
            var record = IdentityJson.Deserialize<Cleansing.CleanRecord>(row.Record);
            outcome = await resolver.ResolveAsync(conn, tx, row.IngestionId, record, decision, reprocessReview: true, ct);
        }
        catch (ReviewTargetNotFoundException e)
        {
            return new ResolveReviewResult.Invalid(e.Message);
        }

        if (outcome.Status != ResolutionOutcome.Processed)
        {
            throw new InvalidOperationException($"Review {reviewId}: a decision must settle the record, but it is {outcome.Status}.");
        }

        await conn.ExecuteAsync(new CommandDefinition("""
            update identity_review
            set status = 'resolved', decision = @decision, target_id = @targetId, resolved_entity_id = @entityId,
                resolved_at = now(), resolved_by = @resolvedBy
            where review_id = @reviewId
            """, new
            {
                decision = decision.Name,
                targetId = (decision as ReviewDecision.Merge)?.TargetAccountId,
                entityId = outcome.EntityId,
                reviewId,
                resolvedBy = actor.Actor,
            }, tx, cancellationToken: ct));
        await AuditLog.WriteAsync(conn, tx, actor.Did("identity_review.resolve", "identity_review", reviewId.ToString(), new
        {
            decision = decision.Name,
            targetId = (decision as ReviewDecision.Merge)?.TargetAccountId,
            entityType = row.EntityType,
            entityId = outcome.EntityId,
        }));
        await tx.CommitAsync(ct);
        await views.InvalidateAsync(outcome.ChangedCustomers());
        return new ResolveReviewResult.Resolved(outcome);
    }

    private sealed class ReviewRow
    {
        public Guid ReviewId { get; set; }
        public Guid IngestionId { get; set; }
        public string EntityType { get; set; } = "";
        public string Record { get; set; } = "";
        public string Candidates { get; set; } = "";
        public string Status { get; set; } = "";
        public DateTime CreatedAt { get; set; }
        public string? Decision { get; set; }
        public Guid? TargetId { get; set; }
        public Guid? ResolvedEntityId { get; set; }
        public DateTime? ResolvedAt { get; set; }
        public string? ResolvedBy { get; set; }

        public IdentityReviewItem ToItem() => new(
            ReviewId, IngestionId, EntityType,
            IdentityJson.Deserialize<Cleansing.CleanRecord>(Record),
            IdentityJson.Deserialize<List<AccountCandidate>>(Candidates),
            Status, Utc(CreatedAt), Decision, TargetId, ResolvedEntityId,
            Utc(ResolvedAt), ResolvedBy);
    }
}
