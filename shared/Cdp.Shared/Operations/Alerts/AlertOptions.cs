namespace Cdp.Shared.Operations.Alerts;

/// <summary>
/// Section <c>Alerts</c>: the rules are data. Each rule fires while its measured value is above its threshold;
/// <c>Alerts:Rules:{rule}:Threshold</c>, <c>:Level</c> (P0-P3) and <c>:Enabled</c> override the defaults of
/// <see cref="AlertRules.Defaults"/>.
/// </summary>
public sealed class AlertOptions
{
    public const string Section = "Alerts";

    /// <summary>Whether the timers evaluate at all (both hosts).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The local timer's period (the Azure timer trigger runs every 30 s).</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The ingest failure rate and the 360 P99 are measured over this recent window.</summary>
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>A host whose heartbeat is older than this (and that did not stop cleanly) is down.</summary>
    public TimeSpan HeartbeatTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>A dead host's row is forgotten after this (a replaced container stops counting as down).</summary>
    public TimeSpan ForgetDownHostAfter { get; set; } = TimeSpan.FromHours(1);

    /// <summary>A dependency (postgres, redis, clickhouse, ...) is down after this many failed health checks in a row.</summary>
    public int DependencyFailuresInRow { get; set; } = 3;

    public Dictionary<string, AlertRuleOptions> Rules { get; set; } = new(StringComparer.OrdinalIgnoreCase);
}

public sealed class AlertRuleOptions
{
    public double? Threshold { get; set; }
    public string? Level { get; set; }
    public bool Enabled { get; set; } = true;
}

/// <summary>A rule as evaluated: fires while value &gt; threshold.</summary>
public sealed record AlertRule(string Name, string Level, double Threshold, string Unit, string Description);

public static class AlertRules
{
    public const string Backlog = "backlog";
    public const string IngestFailureRate = "ingest_failure_rate";
    public const string SummaryLag = "summary_lag";
    public const string ViewP99 = "view_p99";
    public const string ServiceDown = "service_down";
    public const string SyncFailed = "sync_failed";
    public const string DeadLetters = "dead_letters";

    /// <summary>Seed 003's five rules and the two the issue adds.</summary>
    public static IReadOnlyList<AlertRule> Defaults { get; } =
    [
        new(Backlog, "P1", 1_000_000, "messages", "topic backlog (pending messages, all topics)"),
        new(IngestFailureRate, "P2", 1, "%", "ingest failure rate over the window"),
        new(SummaryLag, "P2", 300, "s", "summary lag (oldest pending summary-calculation message)"),
        new(ViewP99, "P3", 1000, "ms", "360 view P99 over the window"),
        new(ServiceDown, "P0", 0, "down", "hosts without heartbeat + dependencies failing health"),
        new(SyncFailed, "P2", 0, "tasks", "sync tasks failed in the last hour"),
        new(DeadLetters, "P3", 0, "messages", "dead letters on the topics"),
    ];

    public static readonly string[] Levels = ["P0", "P1", "P2", "P3"];

    /// <summary>The enabled rules with the settings applied.</summary>
    public static IReadOnlyList<AlertRule> From(AlertOptions options) =>
    [
        .. Defaults.Select(rule => options.Rules.TryGetValue(rule.Name, out var o)
                ? o.Enabled ? rule with
                {
                    Threshold = o.Threshold ?? rule.Threshold,
                    Level = o.Level is { } level && Levels.Contains(level.ToUpperInvariant()) ? level.ToUpperInvariant() : rule.Level,
                } : null
                : rule)
            .OfType<AlertRule>(),
    ];
}
