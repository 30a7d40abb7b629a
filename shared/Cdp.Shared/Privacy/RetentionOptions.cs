namespace Cdp.Shared.Privacy;

/// <summary>Bound from "Retention" (API.md): how long personal data is kept before housekeeping reduces or deletes it (PIPL art. 47).</summary>
public sealed class RetentionOptions
{
    public const string Section = "Retention";

    /// <summary>A channel payload older than this keeps only its hash and outcome (de-duplication by hash still works).</summary>
    public int RawPayloadDays { get; set; } = 30;

    /// <summary>A resolved identity review older than this (since its resolution) is deleted.</summary>
    public int ResolvedReviewDays { get; set; } = 180;

    /// <summary>Behaviour events in ClickHouse older than this (by occurred_at) are deleted.</summary>
    public int EventDays { get; set; } = 730;

    public IEnumerable<string> Errors()
    {
        if (RawPayloadDays is < 0 or > 3650) yield return $"{Section}:RawPayloadDays must be between 0 and 3650.";
        if (ResolvedReviewDays is < 0 or > 3650) yield return $"{Section}:ResolvedReviewDays must be between 0 and 3650.";
        if (EventDays is < 1 or > 36500) yield return $"{Section}:EventDays must be between 1 and 36500.";
    }
}
