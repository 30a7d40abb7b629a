using System.Text.Json;
using Cdp.Shared.Access;
using Cdp.Shared.Api;
using Cdp.Shared.Cleansing;
using Cdp.Shared.Customers;
using Cdp.Shared.Identity;
using Cdp.Shared.Ingestion;
using Cdp.Shared.Messaging;
using Cdp.Shared.Storage;
using Cdp.Shared.Summaries;
using Dapper;
using Npgsql;
using static Cdp.Shared.Storage.DbTime;

namespace Cdp.Shared.Conversion;

/// <summary>The opportunity a conversion may open (API: <c>opportunity</c>). Amount defaults to 0, stage to qualification.</summary>
public sealed record OpportunityInput(string? Name, decimal? Amount, string? Stage);

/// <summary>
/// <c>POST /api/leads/{id}/convert</c> as the use case takes it. <see cref="AccountId"/> picks the account when the
/// lead's company matches several (or when the lead names none). <see cref="Actor"/> is who asked (never from the body):
/// it travels in the orchestration's input to the transaction that audits the conversion; null acts as the system.
/// </summary>
public sealed record ConvertLeadRequest(
    Guid LeadId, OpportunityInput? Opportunity = null, string? OwnerId = null, Guid? AccountId = null, AuditActor? Actor = null);

/// <summary>
/// One conversion run: the request and the run's own id (deterministic in the orchestration), so an activity that
/// runs again after its work committed recognises that work as its own.
/// </summary>
public sealed record ConvertLeadCommand(ConvertLeadRequest Request, Guid ConversionId);

public enum ConversionOutcome { Converted, AlreadyConverted, Refused, LeadNotFound }

/// <summary>
/// What a conversion came to. Refusals are values, not exceptions: they are final, so the orchestration must not
/// retry them. Converted and AlreadyConverted carry the lead's recorded ids.
/// </summary>
public sealed record ConversionResult(
    ConversionOutcome Outcome,
    Guid LeadId,
    Guid? ContactId = null,
    Guid? AccountId = null,
    Guid? OpportunityId = null,
    string? Detail = null,
    IReadOnlyDictionary<string, string[]>? Errors = null,
    IReadOnlyList<AccountCandidate>? Candidates = null)
{
    public static ConversionResult Refused(Guid leadId, string field, string message, IReadOnlyList<AccountCandidate>? candidates = null) =>
        new(ConversionOutcome.Refused, leadId, Detail: message, Errors: new Dictionary<string, string[]> { [field] = [message] }, Candidates: candidates);

    /// <summary>The problem a caller is answered with; null when the lead was converted by this request.</summary>
    public ApiProblem? ToProblem() => Outcome switch
    {
        ConversionOutcome.Converted => null,
        ConversionOutcome.LeadNotFound => ApiProblem.NotFound($"No lead {LeadId}."),
        ConversionOutcome.AlreadyConverted => AlreadyConverted(LeadId, ContactId, AccountId, OpportunityId),
        _ => ApiProblem.Unprocessable(Errors ?? new Dictionary<string, string[]>(), Detail) with
        {
            Extensions = Candidates is null ? null : new Dictionary<string, object?> { ["candidates"] = Candidates },
        },
    };

    public static ApiProblem AlreadyConverted(Guid leadId, Guid? contactId, Guid? accountId, Guid? opportunityId) =>
        ApiProblem.Conflict($"Lead {leadId} was already converted to contact {contactId} at account {accountId}.") with
        {
            Extensions = new Dictionary<string, object?>
            {
                ["leadId"] = leadId, ["contactId"] = contactId, ["accountId"] = accountId, ["opportunityId"] = opportunityId,
            },
        };
}

/// <summary>Tells the salesperson (topic notification, key "lead:{id}") that a lead was converted.</summary>
public sealed record LeadConvertedNotification(
    Guid LeadId, string? LeadName, Guid ContactId, bool ContactCreated, Guid AccountId, bool AccountCreated,
    Guid? OpportunityId, string? OwnerId, DateTimeOffset ConvertedAt)
{
    public const string Kind = "lead_converted";

    public string Type => Kind;
}

/// <summary>The request rules, checked before anything starts and again inside the transaction.</summary>
public static class ConversionRules
{
    /// <summary>The product's own stage names (more are accepted through <see cref="OpportunityStages"/>).</summary>
    public static IReadOnlyList<string> Stages { get; } = ["qualification", "proposal", "negotiation", "closed_won", "closed_lost"];

    public const string DefaultStage = "qualification";

    /// <summary>numeric(18, 2).</summary>
    public const decimal MaxAmount = 9_999_999_999_999_999.99m;

    /// <summary>The body of the convert request: empty, or <c>{"opportunity"?,"ownerId"?,"accountId"?}</c>; 400 when it is not that.</summary>
    public static ConvertLeadRequest Parse(Guid leadId, byte[] body)
    {
        ArgumentNullException.ThrowIfNull(body);
        if (body.AsSpan().Trim(" \t\r\n"u8).IsEmpty) return new ConvertLeadRequest(leadId);
        using var doc = JsonText.Parse(body);
        var parsed = JsonText.Deserialize<Body>(doc);
        return new ConvertLeadRequest(leadId, parsed.Opportunity, parsed.OwnerId, parsed.AccountId);
    }

    sealed record Body(OpportunityInput? Opportunity, string? OwnerId, Guid? AccountId);

    public static Dictionary<string, string[]> Validate(ConvertLeadRequest request, OpportunityStages? stages = null)
    {
        ArgumentNullException.ThrowIfNull(request);
        var errors = new Dictionary<string, string[]>();
        if (request.Opportunity is { } o)
        {
            if (string.IsNullOrWhiteSpace(o.Name))
                errors["opportunity.name"] = ["The opportunity needs a name."];
            else if (o.Name.Trim().Length > 200)
                errors["opportunity.name"] = ["The opportunity name must be at most 200 characters."];
            if (o.Amount is < 0 or > MaxAmount)
                errors["opportunity.amount"] = [$"The amount must be between 0 and {MaxAmount}."];
            if (o.Stage is not null && Stage(o.Stage, stages) is null)
                errors["opportunity.stage"] = [$"The stage must be one of {string.Join(", ", (stages ?? OpportunityStages.Default).Names)} (Conversion:StageMap adds more)."];
        }
        if (request.OwnerId is { Length: > 100 })
            errors["ownerId"] = ["The owner id must be at most 100 characters."];
        return errors;
    }

    /// <summary>The stage as stored and whether it is closed/won, or null when <paramref name="stage"/> is not in the map; null stage -> qualification.</summary>
    public static (string Name, bool IsClosed, bool IsWon)? Stage(string? stage, OpportunityStages? stages = null) =>
        (stages ?? OpportunityStages.Default).Find(stage ?? DefaultStage) is { } found
            ? (found.Name, found.Outcome != StageOutcome.Open, found.Outcome == StageOutcome.Won)
            : null;
}

/// <summary>A lead's conversion state, read before a conversion starts.</summary>
public sealed record LeadConversionState(Guid LeadId, DateTimeOffset? ConvertedAt, Guid? ContactId, Guid? AccountId, Guid? OpportunityId)
{
    public bool IsConverted => ConvertedAt is not null;
}

/// <summary>
/// Converts a lead into a contact at an account, with an optional opportunity, in one transaction: the lead's row is
/// locked, contact and account are found or created by the identity rules (and their advisory locks), the lead's
/// channel identities are copied to the contact, the lead is marked converted, and the summary recalculations and
/// the notification are published in the same transaction (outbox), with the audit row. A failure anywhere rolls all
/// of it back.
/// </summary>
public sealed class LeadConversion(
    NpgsqlDataSource db, IdentityResolver resolver, CustomerViewCache views, TimeProvider time, OpportunityStages stages)
{
    /// <summary>Attempts on a unique violation or deadlock (the whole transaction runs again).</summary>
    internal int MaxAttempts { get; init; } = 3;

    /// <summary>Runs just before the commit; tests throw here to prove that everything rolls back.</summary>
    internal Func<ConvertLeadCommand, Task>? BeforeCommit { get; set; }

    public async Task<LeadConversionState?> GetStateAsync(Guid leadId, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var row = await conn.QuerySingleOrDefaultAsync<LeadRow>(new CommandDefinition("""
            select lead_id as LeadId, converted_at as ConvertedAt, converted_contact_id as ContactId,
                   converted_account_id as AccountId, converted_opportunity_id as OpportunityId
            from lead where lead_id = @leadId
            """, new { leadId }, cancellationToken: ct));
        return row is null ? null : new LeadConversionState(row.LeadId, Utc(row.ConvertedAt), row.ContactId, row.AccountId, row.OpportunityId);
    }

    public async Task<ConversionResult> ConvertAsync(ConvertLeadCommand command, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(command);
        for (var attempt = 1; ; attempt++)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            await using var tx = await conn.BeginTransactionAsync(ct);
            try
            {
                var result = await ConvertAsync(conn, tx, command, ct);
                if (result.Outcome == ConversionOutcome.Converted)
                {
                    if (BeforeCommit is { } hook) await hook(command);
                    await tx.CommitAsync(ct);
                    await views.InvalidateAsync(CustomerRef.Of(result.AccountId, result.ContactId, result.LeadId));
                }
                // A refusal leaves the transaction to roll back: whatever the rules wrote is undone.
                return result;
            }
            catch (PostgresException e) when (attempt < MaxAttempts && IdentityResolver.IsRetryable(e))
            {
                // Someone outside the advisory locks took a unique value first, or a deadlock was broken: run again.
            }
        }
    }

    async Task<ConversionResult> ConvertAsync(NpgsqlConnection conn, NpgsqlTransaction tx, ConvertLeadCommand command, CancellationToken ct)
    {
        var request = command.Request;
        var leadId = request.LeadId;

        // The row lock serialises conversions of one lead (and a conversion with ingestion updating the lead).
        var lead = await conn.QuerySingleOrDefaultAsync<LeadRow>(new CommandDefinition("""
            select lead_id as LeadId, lead_name as Name, company_name as Company, mobile_phone as Mobile, email as Email,
                   title as Title, city as City, phone as Phone, phone_type as PhoneType, channel_id as Channel,
                   field_times::text as FieldTimes, created_at as CreatedAt,
                   converted_at as ConvertedAt, converted_contact_id as ContactId, converted_account_id as AccountId,
                   converted_opportunity_id as OpportunityId, conversion_id as ConversionId
            from lead where lead_id = @leadId for update
            """, new { leadId }, tx, cancellationToken: ct));
        if (lead is null)
            return new ConversionResult(ConversionOutcome.LeadNotFound, leadId);
        if (lead.ConvertedAt is not null)
        {
            // This run's own earlier attempt committed (activities run at least once): that is its result.
            var outcome = lead.ConversionId == command.ConversionId ? ConversionOutcome.Converted : ConversionOutcome.AlreadyConverted;
            return new ConversionResult(outcome, leadId, lead.ContactId, lead.AccountId, lead.OpportunityId);
        }

        if (ConversionRules.Validate(request, stages) is { Count: > 0 } errors)
            return new ConversionResult(ConversionOutcome.Refused, leadId, Detail: "See errors.", Errors: errors);
        if (string.IsNullOrWhiteSpace(lead.Company) && request.AccountId is null)
            return ConversionResult.Refused(leadId, "accountId", "The lead names no company: pass accountId to choose the account.");

        var identities = (await conn.QueryAsync<(string Type, string Value)>(new CommandDefinition("""
            select identity_type, channel_user_id from lead_channel_identity where lead_id = @leadId
            order by captured_at desc, identity_id
            """, new { leadId }, tx, cancellationToken: ct))).ToList();
        var person = lead.ToPerson(identities);

        PersonResolution resolution;
        try
        {
            resolution = await resolver.FindOrCreatePersonAsync(conn, tx, person, request.AccountId, ct);
        }
        catch (ReviewTargetNotFoundException)
        {
            return ConversionResult.Refused(leadId, "accountId", $"No account {request.AccountId}.");
        }

        if (resolution is PersonResolution.Ambiguous ambiguous)
        {
            return ConversionResult.Refused(leadId, "accountId",
                $"The lead's company \"{lead.Company}\" matches {ambiguous.Candidates.Count} accounts: pass accountId to choose one.",
                ambiguous.Candidates);
        }

        var (contactId, contactCreated, resolvedAccount, accountCreated) = (PersonResolution.Resolved)resolution;
        var accountId = resolvedAccount ?? throw new InvalidOperationException("A company or an account id always yields an account.");
        var opportunityId = request.Opportunity is null ? (Guid?)null : Guid.CreateVersion7();
        var convertedAt = time.GetUtcNow();
        var actor = request.Actor ?? AuditActor.System;

        await using var batch = new NpgsqlBatch(conn, tx);
        batch.BatchCommands.Add(Command("""
            insert into contact_channel_identity (contact_id, channel_id, channel_user_id, identity_type, first_seen_at, last_seen_at)
            select $1, channel_id, channel_user_id, identity_type, captured_at, last_seen_at
            from lead_channel_identity where lead_id = $2 and identity_type <> 'source_record'
            on conflict (channel_id, identity_type, channel_user_id) do update
            set first_seen_at = least(contact_channel_identity.first_seen_at, excluded.first_seen_at),
                last_seen_at = greatest(contact_channel_identity.last_seen_at, excluded.last_seen_at)
            where contact_channel_identity.contact_id = excluded.contact_id
            """, contactId, leadId));
        batch.BatchCommands.Add(CustomerOwners.Converted(leadId, contactId, request.OwnerId, convertedAt));
        // The converted person becomes the account's primary contact unless it already has one.
        batch.BatchCommands.Add(Command("""
            update account_contact_relation r set is_primary_contact = true
            where r.account_id = $1 and r.contact_id = $2
              and not exists (select 1 from account_contact_relation o
                              where o.account_id = $1 and o.is_primary_contact and o.contact_id <> $2)
            """, accountId, contactId));
        if (request.Opportunity is { } o)
        {
            var (stage, isClosed, isWon) = ConversionRules.Stage(o.Stage, stages)!.Value;
            batch.BatchCommands.Add(Command("""
                insert into opportunity (opportunity_id, account_id, contact_id, lead_id, opportunity_name, amount, stage,
                                         is_closed, is_won, closed_at, owner_id, created_by)
                values ($1, $2, $3, $4, $5, $6, $7, $8, $9, case when $8 then $10 end, $11, $12)
                """, opportunityId, accountId, contactId, leadId, o.Name!.Trim(), o.Amount ?? 0m, stage, isClosed, isWon,
                convertedAt, request.OwnerId, actor.Actor));
        }
        batch.BatchCommands.Add(Command("""
            update lead set lead_status = 'converted', converted_at = $2, converted_contact_id = $3, converted_account_id = $4,
                            converted_opportunity_id = $5, conversion_id = $6, converted_owner_id = $7, updated_at = now()
            where lead_id = $1
            """, leadId, convertedAt, contactId, accountId, opportunityId, command.ConversionId, request.OwnerId));

        foreach (var (type, id) in new[] { ("lead", leadId), ("contact", contactId), ("account", accountId) })
        {
            batch.BatchCommands.Add(TopicPublisher.PublishCommand(Topics.SummaryCalculation, $"{type}:{id}",
                new SummaryRecalculation(type, id, "lead_converted")));
        }
        batch.BatchCommands.Add(TopicPublisher.PublishCommand(Topics.Notification, $"lead:{leadId}",
            new LeadConvertedNotification(leadId, lead.Name, contactId, contactCreated, accountId, accountCreated,
                opportunityId, request.OwnerId, convertedAt)));
        await batch.ExecuteNonQueryAsync(ct);
        // Only here, on the path that converts: a re-run that finds its own committed conversion wrote its row then.
        await AuditLog.WriteAsync(conn, tx, actor.Did("lead.convert", "lead", leadId.ToString(), new
        {
            contactId, contactCreated, accountId, accountCreated, opportunityId, ownerId = request.OwnerId,
        }));

        return new ConversionResult(ConversionOutcome.Converted, leadId, contactId, accountId, opportunityId);
    }

    static NpgsqlBatchCommand Command(string sql, params object?[] values)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var value in values)
        {
            command.Parameters.Add(value switch
            {
                // Sent untyped: the server infers the type from where the parameter is used.
                null => new NpgsqlParameter { Value = DBNull.Value },
                DateTimeOffset at => new NpgsqlParameter { Value = at.UtcDateTime },
                _ => new NpgsqlParameter { Value = value },
            });
        }
        return command;
    }

    sealed class LeadRow
    {
        public Guid LeadId { get; set; }
        public string? Name { get; set; }
        public string? Company { get; set; }
        public string? Mobile { get; set; }
        public string? Email { get; set; }
        public string? Title { get; set; }
        public string? City { get; set; }
        public string? Phone { get; set; }
        public string? PhoneType { get; set; }
        public string? Channel { get; set; }
        public string? FieldTimes { get; set; }
        public DateTime CreatedAt { get; set; }
        public DateTime? ConvertedAt { get; set; }
        public Guid? ContactId { get; set; }
        public Guid? AccountId { get; set; }
        public Guid? OpportunityId { get; set; }
        public Guid? ConversionId { get; set; }

        /// <summary>
        /// The lead as a contact record for the identity rules. Its values are as fresh as the newest source change
        /// the lead holds, so they merge into an existing contact the way a channel record of that time would: a
        /// newer contact value stays, a blank never erases. The lead's own source record is not the contact's.
        /// </summary>
        public CleanRecord ToPerson(IReadOnlyList<(string Type, string Value)> identities)
        {
            var times = IdentityJson.FieldTimes(FieldTimes);
            var record = new CustomerRecord
            {
                Channel = Channel ?? ChannelNames.Crm,
                SourceId = $"lead:{LeadId}",
                Kind = EntityKind.Contact,
                ModifiedAt = times.Count > 0 ? times.Values.Max() : Utc(CreatedAt),
                Name = Name,
                Company = Company,
                Mobile = Mobile,
                Email = Email,
                Title = Title,
                City = City,
                Phone = Phone,
                WeComExternalUserId = Identity("wecom_external_user"),
                UnionId = Identity("wechat_unionid"),
                OpenId = Identity("wechat_openid"),
            };
            var (full, shortName) = CompanyName.Normalize(Company);
            return new CleanRecord(record, full, shortName) { PhoneType = PhoneType };

            string? Identity(string type) => identities.FirstOrDefault(i => i.Type == type).Value;
        }
    }
}
