namespace Cdp.Shared.Customers;

/// <summary>An account, contact or lead, as the customer views and their cache name it.</summary>
public readonly record struct CustomerRef(string Kind, Guid Id)
{
    public const string AccountKind = "account";
    public const string ContactKind = "contact";
    public const string LeadKind = "lead";

    public static CustomerRef Account(Guid id) => new(AccountKind, id);
    public static CustomerRef Contact(Guid id) => new(ContactKind, id);
    public static CustomerRef Lead(Guid id) => new(LeadKind, id);

    /// <summary>The refs of the ids that are set (a writer often knows some of lead, contact and account).</summary>
    public static IEnumerable<CustomerRef> Of(Guid? accountId = null, Guid? contactId = null, Guid? leadId = null)
    {
        if (accountId is { } a && a != Guid.Empty) yield return Account(a);
        if (contactId is { } c && c != Guid.Empty) yield return Contact(c);
        if (leadId is { } l && l != Guid.Empty) yield return Lead(l);
    }

    public override string ToString() => $"{Kind}:{Id}";
}

public sealed class CustomerViewOptions
{
    public const string Section = "CustomerViews";

    /// <summary>How long a full view stays cached (seed 003: 300 s); every write that changes it deletes it sooner.</summary>
    public TimeSpan CacheTtl { get; set; } = TimeSpan.FromSeconds(300);

    /// <summary>A view missing its ClickHouse part is cached briefly: it spares the database during an outage without
    /// hiding the behaviour for long once ClickHouse is back.</summary>
    public TimeSpan PartialCacheTtl { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Budget of one Redis call; past it the view comes from the databases (a down Redis is skipped at once,
    /// so this only bounds a hung one). Generous, because a saturated host delays even a healthy Redis's answers.</summary>
    public TimeSpan RedisTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a reader waits for another process that is already rebuilding the same view.</summary>
    public TimeSpan RebuildWait { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The window of the behaviour counts.</summary>
    public int BehaviourDays { get; set; } = 30;

    /// <summary>Contacts, opportunities and follow-ups shown per view.</summary>
    public int ListLimit { get; set; } = 10;

    /// <summary>Latest touchpoints shown per view.</summary>
    public int TouchpointLimit { get; set; } = 20;

    public IEnumerable<string> Errors()
    {
        if (CacheTtl <= TimeSpan.Zero) yield return $"{Section}:CacheTtl must be positive.";
        if (PartialCacheTtl <= TimeSpan.Zero || PartialCacheTtl > CacheTtl) yield return $"{Section}:PartialCacheTtl must be positive and at most CacheTtl.";
        if (RedisTimeout <= TimeSpan.Zero) yield return $"{Section}:RedisTimeout must be positive.";
        if (RebuildWait < TimeSpan.Zero) yield return $"{Section}:RebuildWait must not be negative.";
        if (BehaviourDays is < 1 or > 3650) yield return $"{Section}:BehaviourDays must be between 1 and 3650.";
        if (ListLimit is < 1 or > 100) yield return $"{Section}:ListLimit must be between 1 and 100.";
        if (TouchpointLimit is < 1 or > 200) yield return $"{Section}:TouchpointLimit must be between 1 and 200.";
    }
}
