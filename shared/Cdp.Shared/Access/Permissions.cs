namespace Cdp.Shared.Access;

/// <summary>The permissions of API.md; every route names the one it needs.</summary>
public static class Permissions
{
    public const string CustomersRead = "customers:read";
    public const string CustomersWrite = "customers:write";
    public const string PiiReveal = "pii:reveal";
    public const string LeadsConvert = "leads:convert";
    public const string IdentityReview = "identity:review";
    public const string IngestionsRead = "ingestions:read";
    public const string SyncManage = "sync:manage";
    public const string OrchestrationsRead = "orchestrations:read";
    public const string OrchestrationsManage = "orchestrations:manage";
    public const string OpsRead = "ops:read";
    public const string OpsAdmin = "ops:admin";
    public const string EventsWrite = "events:write";
    public const string ImportsWrite = "imports:write";
    public const string CallsBind = "calls:bind";
    public const string PrivacyManage = "privacy:manage";
    public const string AuditRead = "audit:read";
    public const string Admin = "admin";

    public static IReadOnlyList<string> All { get; } =
    [
        CustomersRead, CustomersWrite, PiiReveal, LeadsConvert, IdentityReview, IngestionsRead, SyncManage, OrchestrationsRead,
        OrchestrationsManage, OpsRead, OpsAdmin, EventsWrite, ImportsWrite, CallsBind, PrivacyManage, AuditRead, Admin,
    ];

    public static bool IsKnown(string permission) => All.Contains(permission);
}

/// <summary>The default roles of API.md and the permissions each grants.</summary>
public static class Roles
{
    public const string Sales = "sales", Manager = "manager", Steward = "steward", Ops = "ops", Auditor = "auditor", Admin = "admin";

    public static IReadOnlyDictionary<string, IReadOnlyList<string>> Grants { get; } = new Dictionary<string, IReadOnlyList<string>>
    {
        [Sales] = [Permissions.CustomersRead, Permissions.CustomersWrite, Permissions.LeadsConvert, Permissions.CallsBind],
        [Manager] = [Permissions.CustomersRead, Permissions.CustomersWrite, Permissions.LeadsConvert, Permissions.CallsBind],
        [Steward] = [Permissions.CustomersRead, Permissions.IdentityReview, Permissions.LeadsConvert, Permissions.IngestionsRead],
        [Ops] = [Permissions.OpsRead, Permissions.OpsAdmin, Permissions.SyncManage, Permissions.OrchestrationsRead, Permissions.OrchestrationsManage, Permissions.IngestionsRead],
        [Auditor] = [Permissions.AuditRead],
        [Admin] = Permissions.All,
    };

    public static bool IsKnown(string role) => Grants.ContainsKey(role);

    public static IReadOnlySet<string> PermissionsOf(IEnumerable<string> roles) =>
        roles.Where(Grants.ContainsKey).SelectMany(r => Grants[r]).ToHashSet();

    /// <summary>Sales and managers see only their customers (followed in WeCom or owned in the CRM; managers: their department's).</summary>
    public static bool IsScoped(IEnumerable<string> roles) =>
        !roles.Any(r => r is Steward or Ops or Admin) && roles.Any(r => r is Sales or Manager);
}
