using Cdp.Shared.Customers;

namespace Cdp.Shared.Identity;

/// <summary>
/// Where a record ended up. <see cref="Status"/> is "processed" (EntityId set) or "review" (ReviewId set);
/// <see cref="EntityType"/> is "lead", "contact" or "account"; <see cref="AccountId"/> is a contact's account
/// (or the account itself); <see cref="Created"/> says the entity was new.
/// </summary>
public sealed record ResolutionOutcome(
    string Status, string EntityType, Guid? EntityId, Guid? AccountId, Guid? ReviewId, bool Created)
{
    public const string Processed = "processed";
    public const string Review = "review";

    /// <summary>The customers whose views the resolution changed: the entity, and a contact's account (it lists it).</summary>
    public IEnumerable<CustomerRef> ChangedCustomers() =>
        Status != Processed || EntityId is not { } id ? []
        : EntityType switch
        {
            CustomerRef.AccountKind => CustomerRef.Of(accountId: id),
            CustomerRef.ContactKind => CustomerRef.Of(accountId: AccountId, contactId: id),
            _ => CustomerRef.Of(leadId: id),
        };
}

/// <summary>What <see cref="IdentityResolver.FindOrCreatePersonAsync"/> came to.</summary>
public abstract record PersonResolution
{
    private PersonResolution()
    {
    }

    /// <summary>The contact (and the account, when the person has a company or one was picked), found or created.</summary>
    public sealed record Resolved(Guid ContactId, bool ContactCreated, Guid? AccountId, bool AccountCreated) : PersonResolution;

    /// <summary>Several accounts match the company and none may be chosen automatically; nothing was written.</summary>
    public sealed record Ambiguous(IReadOnlyList<AccountCandidate> Candidates) : PersonResolution;
}

/// <summary>A person's answer to an ambiguous account match.</summary>
public abstract record ReviewDecision
{
    private ReviewDecision()
    {
    }

    /// <summary>The record's company is this existing account.</summary>
    public sealed record Merge(Guid TargetAccountId) : ReviewDecision;

    /// <summary>The record's company is none of the candidates: create a new account.</summary>
    public sealed record Create : ReviewDecision;

    /// <summary>The word stored in identity_review.decision.</summary>
    public string Name => this is Merge ? "merge" : "create";
}

/// <summary>An account a record might belong to, as shown to the person reviewing.</summary>
public sealed record AccountCandidate(Guid AccountId, string Name, string? City, string? CreditCode, double Similarity);

/// <summary>A merge decision named an account that does not exist; the HTTP layer answers 400.</summary>
public sealed class ReviewTargetNotFoundException(Guid accountId)
    : Exception($"Account {accountId} does not exist, so the record cannot be merged into it.")
{
    public Guid AccountId { get; } = accountId;
}
