using Cdp.Shared.Access;
using Cdp.Shared.Api;
using Cdp.Shared.Cleansing;
using Cdp.Shared.Customers;
using Cdp.Shared.VirtualNumbers;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Cdp.Orchestrations.VirtualNumbers;

/// <summary><c>POST /api/virtual-numbers/bindings</c>'s body (API.md).</summary>
public sealed record BindRequest(string? Mode, Guid? ContactId, string? A, string? B, string? City, string? RequestId);

/// <summary>What the route answers: the binding, and whether it is still in the background (202).</summary>
public sealed record BindAnswer(BindingView Binding, bool Running);

/// <summary>
/// A "call" button press, as both hosts serve it: decide A (the contact's mobile, never shown to the caller), B (the
/// caller's own mobile from the staff record) and the city; insert the binding under its request id (two clicks, one
/// binding) with an audit row; start its orchestration when the row is new; wait a little for BIND.
/// </summary>
public sealed class RequestBinding(
    NpgsqlDataSource db, BindingStore store, StaffDirectory staff, CustomerScope scope, IOrchestrationClient orchestrations,
    IOptionsMonitor<VirtualNumberOptions> options, TimeProvider clock)
{
    public const int MaxRequestIdLength = 100;

    public async Task<BindAnswer> RunAsync(BindRequest request, Caller caller, AuditActor actor, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var mode = request.Mode?.Trim().ToUpperInvariant();
        if (mode is not (BindingModes.Axb or BindingModes.Xb)) errors["mode"] = ["Must be AXB or XB."];
        var requestId = request.RequestId?.Trim();
        if (string.IsNullOrEmpty(requestId)) errors["requestId"] = ["Required: the client's id of this press (two presses with one id give one binding)."];
        else if (requestId.Length > MaxRequestIdLength) errors["requestId"] = [$"At most {MaxRequestIdLength} characters."];
        if (request.City is { Length: > 50 }) errors["city"] = ["At most 50 characters."];
        if (errors.Count > 0) throw new ApiProblemException(ApiProblem.Unprocessable(errors));

        var scoped = caller.Scoped;
        // B: a staff caller's own mobile; a salesperson cannot bind someone else's phone.
        string? b;
        if (scoped && request.B is not null) throw ApiProblemException.Invalid("b", "A salesperson calls from their own mobile (the staff record's); leave b out.");
        if (request.B is not null) b = Mobile("b", request.B);
        else if (caller.StaffUserId is { } userId)
            b = (await staff.GetAsync(userId, ct))?.Mobile
                ?? throw ApiProblemException.Invalid("b", "Your staff record has no mobile: an admin sets it with PUT /api/admin/staff/{userId} {\"mobile\"}.");
        else throw ApiProblemException.Invalid("b", "Required for a caller without a staff record.");
        b = Mobile("b", b);

        string? a = null;
        string? city = request.City?.Trim();
        if (mode == BindingModes.Axb)
        {
            if (request.ContactId is { } contactId)
            {
                if (request.A is not null) throw ApiProblemException.Invalid("a", "Give contactId or a, not both.");
                await scope.EnsureVisibleAsync(caller, CustomerRef.ContactKind, contactId, ct);
                var contact = await ContactAsync(contactId, ct) ?? throw new ApiProblemException(ApiProblem.NotFound($"No contact {contactId}."));
                a = contact.Mobile ?? throw ApiProblemException.Invalid("contactId", "The contact has no mobile to call.");
                city ??= contact.City;
            }
            else if (scoped) throw ApiProblemException.Invalid("contactId", "Required: a salesperson calls a customer they follow.");
            else a = Mobile("a", request.A ?? throw ApiProblemException.Invalid("a", "Required for AXB without contactId."));
        }
        else if (request.A is not null || request.ContactId is not null)
            throw ApiProblemException.Invalid("mode", "XB binds B alone; leave a and contactId out.");

        var o = options.CurrentValue;
        Binding binding;
        bool created;
        await using (var conn = await db.OpenConnectionAsync(ct))
        await using (var tx = await conn.BeginTransactionAsync(ct))
        {
            (binding, created) = await BindingStore.CreateAsync(conn, tx, new BindingStore.NewBinding(Guid.NewGuid(), requestId!, mode!, city, a, b,
                request.ContactId, caller.StaffUserId, clock.GetUtcNow() + o.BindingLifetime));
            if (created)
                await AuditLog.WriteAsync(conn, tx, actor.Did("virtual_number.bind", "virtual_binding", binding.BindingId.ToString(),
                    new { mode, city, contactId = request.ContactId }));
            await tx.CommitAsync(ct);
        }
        // A scoped caller may not reach another's binding by guessing its request id.
        if (!created && scoped && binding.StaffUserId != caller.StaffUserId)
            throw new ApiProblemException(ApiProblem.Conflict("That requestId is taken; send a new one."));

        var instanceId = BindVirtualNumberOrchestrator.InstanceIdOf(binding.BindingId);
        // The row is new, or an earlier request crashed between its commit and the start: starting a running id is a no-op.
        if (created || (binding.State == BindingStates.Operation && await orchestrations.GetStatusAsync(instanceId) is null))
            await orchestrations.StartAsync(nameof(BindVirtualNumberOrchestrator),
                new BindVirtualNumberInput(binding.BindingId, binding.ExpiresAt.UtcDateTime, BindingSchedule.Of(o)), instanceId);

        binding = await store.WaitWhileAsync(binding, BindingStates.Operation, o.WaitTimeout, ct);
        if (binding.State == BindingStates.NotBind && binding.UnboundAt is null)
            throw new ApiProblemException(Refusal(binding));
        return new BindAnswer(binding.ToView(), binding.State == BindingStates.Operation);
    }

    /// <summary>The answer for a binding that ended without a number: 422 for an illegal number, 503 when no pool has one.</summary>
    public static ApiProblem Refusal(Binding b) => b.FailureCode switch
    {
        ProviderCodes.MobileNumberIllegal => ApiProblem.Unprocessable(new Dictionary<string, string[]> { ["a"] = ["The provider refused a number as illegal (isv.MOBILE_NUMBER_ILLEGAL)."] },
            $"Binding {b.BindingId} refused: {PiiMask.Text(b.LastError)}"),
        ProviderCodes.NoAvailableNumber => ApiProblem.Unavailable($"Binding {b.BindingId}: {PiiMask.Text(b.LastError)} Try again later or ask ops to add numbers."),
        _ => ApiProblem.Unavailable($"Binding {b.BindingId} did not bind after {b.Attempts} attempt(s) ({b.FailureCode}); ops have been alerted."),
    };

    static string Mobile(string field, string raw) =>
        MobileNumber.TryNormalize(raw, out var canonical, out var problem) && canonical is not null
            ? canonical
            : throw ApiProblemException.Invalid(field, problem ?? "Required: a mobile number.");

    async Task<(string? Mobile, string? City)?> ContactAsync(Guid contactId, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var row = await conn.QuerySingleOrDefaultAsync<(string? Mobile, string? City)?>(new CommandDefinition(
            "select mobile_phone, city from contact where contact_id = @contactId", new { contactId }, cancellationToken: ct));
        return row;
    }
}
