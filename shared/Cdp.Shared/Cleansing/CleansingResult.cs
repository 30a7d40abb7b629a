using Cdp.Shared.Ingestion;

namespace Cdp.Shared.Cleansing;

/// <summary>A field that broke a rule, in words a person can act on.</summary>
public sealed record FieldError(string Field, string Message);

/// <summary>
/// A record after cleansing: every text field normalised, the mobile in canonical form, the email case-folded,
/// and the company name in two forms used for matching.
/// </summary>
/// <param name="CompanyFullName">Normalised full legal name, compared exactly.</param>
/// <param name="CompanyShortName">Name without city prefix, brackets and legal suffix, compared fuzzily.</param>
/// <param name="CreditCodeUnverified">The record's credit code has the right shape but its check character does not verify.</param>
public sealed record CleanRecord(CustomerRecord Record, string? CompanyFullName, string? CompanyShortName, bool CreditCodeUnverified = false)
{
    /// <summary>
    /// What the record's phone is (<see cref="ClassifiedPhone.TypeName"/>): "landline", "shared_cost", "data_only" ...
    /// A number from the mobile field that is not a person's mobile lands in the phone with its type, flagged
    /// ("data_only", "unallocated") or a business's ("landline", "shared_cost", "toll_free", "service").
    /// </summary>
    public string? PhoneType { get; init; }
}

/// <summary>Either a clean record or the reasons it was rejected; never both, never neither.</summary>
public sealed record CleansingResult(CleanRecord? Clean, IReadOnlyList<FieldError> Errors)
{
    public bool IsRejected => Clean is null;
    public static CleansingResult Accept(CleanRecord clean) => new(clean, []);
    public static CleansingResult Reject(IReadOnlyList<FieldError> errors) => new(null, errors);
}
