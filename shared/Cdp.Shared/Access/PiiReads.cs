using Cdp.Shared.Api;

namespace Cdp.Shared.Access;

/// <summary>
/// The two rules every answer with personal data follows: it is masked unless the caller holds <c>pii:reveal</c>, and
/// the read leaves one audit row (PIPL art. 51) — who read which record, masked or not; never the data, never a query
/// that is itself a phone or an address.
/// </summary>
public static class PiiReads
{
    public const string ReadAction = "pii.read";
    public const string RevealAction = "pii.reveal";

    /// <summary>True when this caller sees personal data masked.</summary>
    public static bool MasksPii(this ApiCall call) => !call.Caller.Has(Permissions.PiiReveal);

    /// <summary>
    /// One insert after the read (a read changes nothing, so there is no transaction to join), committed without waiting
    /// for the disk (<see cref="AuditLog.WriteReadAsync"/>). Awaited: an answer whose read could not be recorded is not
    /// sent (the caller gets the 503 of a database that did not answer).
    /// </summary>
    public static Task AuditPiiReadAsync(this ApiCall call, string entityType, string? entityId, object detail) =>
        call.Service<AuditLog>().WriteReadAsync(call.Actor.Did(ReadAction, entityType, entityId, detail), call.Aborted);
}
