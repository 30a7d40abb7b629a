namespace Cdp.Shared.Conversion;

/// <summary>Where an opportunity stage stands: still open, or closed as won or lost.</summary>
public enum StageOutcome { Open, Won, Lost }

/// <summary>
/// The opportunity stages a conversion accepts, in the CRM's own words, each mapped to open/won/lost. The defaults are
/// the product's own names and Salesforce's standard stages; <c>Conversion:StageMap:&lt;name&gt;</c> = open|won|lost
/// adds a stage or changes where one stands. Names are matched ignoring case and runs of white space; the stage is
/// stored as the map spells it.
/// </summary>
public sealed class OpportunityStages
{
    public static IReadOnlyDictionary<string, StageOutcome> Defaults { get; } = new Dictionary<string, StageOutcome>
    {
        ["qualification"] = StageOutcome.Open,
        ["proposal"] = StageOutcome.Open,
        ["negotiation"] = StageOutcome.Open,
        ["closed_won"] = StageOutcome.Won,
        ["closed_lost"] = StageOutcome.Lost,
        ["Prospecting"] = StageOutcome.Open,
        ["Qualification"] = StageOutcome.Open,
        ["Needs Analysis"] = StageOutcome.Open,
        ["Value Proposition"] = StageOutcome.Open,
        ["Id. Decision Makers"] = StageOutcome.Open,
        ["Perception Analysis"] = StageOutcome.Open,
        ["Proposal/Price Quote"] = StageOutcome.Open,
        ["Negotiation/Review"] = StageOutcome.Open,
        ["Closed Won"] = StageOutcome.Won,
        ["Closed Lost"] = StageOutcome.Lost,
    };

    public static OpportunityStages Default { get; } = new(null);

    readonly Dictionary<string, (string Name, StageOutcome Outcome)> byKey = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The defaults overlaid with <paramref name="settings"/> (name -> open|won|lost); a bad value throws.</summary>
    public OpportunityStages(IReadOnlyDictionary<string, string>? settings)
    {
        foreach (var (name, outcome) in Defaults) Add(name, outcome);
        foreach (var (name, value) in settings ?? new Dictionary<string, string>())
        {
            Add(name, ParseOutcome(value)
                ?? throw new ArgumentException($"Conversion:StageMap:{name} must be open, won or lost, not \"{value}\"."));
        }
    }

    void Add(string name, StageOutcome outcome)
    {
        var key = Key(name);
        if (key.Length == 0) throw new ArgumentException("A stage in Conversion:StageMap needs a name.");
        // The first spelling of a name is kept (the product's own lower-case names before Salesforce's capitalised ones).
        byKey[key] = (byKey.TryGetValue(key, out var known) ? known.Name : name.Trim(), outcome);
    }

    /// <summary>Every accepted stage name, as stored.</summary>
    public IEnumerable<string> Names => byKey.Values.Select(v => v.Name);

    /// <summary>The stage as stored and where it stands, or null when <paramref name="stage"/> is not in the map.</summary>
    public (string Name, StageOutcome Outcome)? Find(string stage) =>
        byKey.TryGetValue(Key(stage), out var found) ? found : null;

    public static StageOutcome? ParseOutcome(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        "open" => StageOutcome.Open,
        "won" => StageOutcome.Won,
        "lost" => StageOutcome.Lost,
        _ => null,
    };

    static string Key(string name) => string.Join(' ', name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
}
