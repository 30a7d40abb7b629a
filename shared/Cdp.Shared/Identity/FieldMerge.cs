namespace Cdp.Shared.Identity;

/// <summary>What a merge decided: every field's value and source time afterwards, and which values changed.</summary>
public sealed record FieldMergeResult(
    IReadOnlyDictionary<string, string?> Values,
    IReadOnlyDictionary<string, DateTimeOffset> FieldTimes,
    IReadOnlyList<string> Changed,
    bool FieldTimesChanged)
{
    /// <summary>Per field, the channel its value came from (field_sources); only tracked when the merge was given sources.</summary>
    public IReadOnlyDictionary<string, string> FieldSources { get; init; } = new Dictionary<string, string>();

    /// <summary>True when the row needs writing: a value or a field time moved.</summary>
    public bool HasChanges => Changed.Count > 0 || FieldTimesChanged;
}

/// <summary>Where the held values came from (per field, a channel) and the channel of the incoming record.</summary>
public sealed record FieldSourcing(IReadOnlyDictionary<string, string> Held, string Incoming);

/// <summary>
/// Merging a channel record into an entity we already hold. Channels deliver out of order and often send partial
/// records, so each field keeps the newest value any source has told us, and a blank never erases anything.
/// </summary>
public static class FieldMerge
{
    /// <param name="current">The entity's values by field name.</param>
    /// <param name="fieldTimes">Per field, when the held value was true at its source (field_times).</param>
    /// <param name="incoming">The record's values by field name; null or blank means "the record says nothing".</param>
    /// <param name="modifiedAt">When the source last changed the record.</param>
    /// <param name="sourcing">
    /// Per-field sources. With them, a visitor-typed record (<see cref="IsVisitorTyped"/>) only fills empty fields and
    /// fields another visitor filled: a mobile typed into a WeChat form must not rename a CRM lead. A held value
    /// without a recorded source counts as a system's (CRM, ERP, WeCom, staff).
    /// </param>
    /// <remarks>
    /// A held value without a field time (loaded before field times existed, or set by hand) counts as older than
    /// anything a channel sends. On a tie the incoming record wins: it is the later delivery.
    /// </remarks>
    public static FieldMergeResult Merge(
        IReadOnlyDictionary<string, string?> current,
        IReadOnlyDictionary<string, DateTimeOffset> fieldTimes,
        IReadOnlyDictionary<string, string?> incoming,
        DateTimeOffset modifiedAt,
        FieldSourcing? sourcing = null)
    {
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(fieldTimes);
        ArgumentNullException.ThrowIfNull(incoming);

        var values = new Dictionary<string, string?>(current, StringComparer.Ordinal);
        var times = new Dictionary<string, DateTimeOffset>(fieldTimes, StringComparer.Ordinal);
        var sources = new Dictionary<string, string>(sourcing?.Held ?? new Dictionary<string, string>(), StringComparer.Ordinal);
        var visitor = sourcing is not null && IsVisitorTyped(sourcing.Incoming);
        var changed = new List<string>();
        var timesChanged = false;

        foreach (var (field, value) in incoming)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                continue;
            }

            values.TryGetValue(field, out var held);
            DateTimeOffset? heldAt = times.TryGetValue(field, out var t) ? t : null;
            var heldIsEmpty = string.IsNullOrWhiteSpace(held);

            // An older record may still fill a gap: something is better than nothing.
            if (!heldIsEmpty && heldAt is { } at && modifiedAt < at)
            {
                continue;
            }

            if (!heldIsEmpty && visitor && !(sources.TryGetValue(field, out var heldFrom) && IsVisitorTyped(heldFrom)))
            {
                continue;
            }

            if (!string.Equals(held, value, StringComparison.Ordinal))
            {
                values[field] = value;
                changed.Add(field);
                times[field] = modifiedAt;
                timesChanged = true;
                if (sourcing is not null) sources[field] = sourcing.Incoming;
            }
            else if (heldAt is null || modifiedAt > heldAt)
            {
                // Same value, seen true at a later time: remember that so an older record cannot replace it.
                times[field] = modifiedAt;
                timesChanged = true;
                // A system confirming what a visitor typed makes it the system's value.
                if (sourcing is not null && !visitor) sources[field] = sourcing.Incoming;
            }
        }

        return new FieldMergeResult(values, times, changed, timesChanged) { FieldSources = sources };
    }

    /// <summary>Channels whose values a visitor typed (the WeChat H5 form), not a system of record.</summary>
    public static bool IsVisitorTyped(string channel) => channel == Ingestion.ChannelNames.WeChat;
}
