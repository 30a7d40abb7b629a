namespace Cdp.Shared.Access;

public enum CallerKind { Anonymous, Staff, ApiKey, PublishableKey, Bootstrap }

/// <summary>
/// Who is calling, as the access check established it. <see cref="Actor"/> is what the audit trail records
/// ("staff:zhangsan", "key:3f9a...", "bootstrap"); never a secret or anything derived from one.
/// </summary>
public sealed record Caller(CallerKind Kind, string Actor, IReadOnlySet<string> Permissions)
{
    public static Caller Anonymous { get; } = new(CallerKind.Anonymous, "anonymous", new HashSet<string>());

    /// <summary>The WeCom userid of a signed-in staff member.</summary>
    public string? StaffUserId { get; init; }

    public string? Department { get; init; }

    /// <summary>A staff member's roles (a manager's scope is their department's).</summary>
    public IReadOnlyList<string> Roles { get; init; } = [];

    /// <summary>True for sales and managers: records outside their customers are answered 404.</summary>
    public bool Scoped { get; init; }

    /// <summary>Authenticated by the session cookie: a state-changing request must carry the CSRF token.</summary>
    public string? CsrfToken { get; init; }

    /// <summary>Publishable keys: the website origins allowed to use the key.</summary>
    public IReadOnlyList<string> AllowedOrigins { get; init; } = [];

    public bool IsAuthenticated => Kind != CallerKind.Anonymous;

    public bool Has(string permission) => Permissions.Contains(permission);
}
