namespace Cdp.Shared.Events;

/// <summary>Bound from "Events".</summary>
public sealed class EventsOptions
{
    public const string Section = "Events";

    /// <summary>1000 events of ~1 KB each fit with room to spare; more is a mistake or an attack.</summary>
    public int MaxBodyBytes { get; set; } = 2 * 1024 * 1024;

    public int MaxEventsPerRequest { get; set; } = 1000;

    /// <summary>Most event-stream messages the ClickHouse writer inserts with one INSERT.</summary>
    public int WriterBatchSize { get; set; } = 10_000;

    /// <summary>How long the writer keeps gathering a batch that is not full before inserting it.</summary>
    public TimeSpan WriterMaxWait { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Writers claiming and inserting side by side (claims skip each other's rows).</summary>
    public int WriterConcurrency { get; set; } = 1;

    /// <summary>Behaviour queries give up after this and the caller answers without them (partial).</summary>
    public TimeSpan QueryTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>ClickHouse database; empty means the connection string's path, else "cdp".</summary>
    public string? Database { get; set; }

    public void Validate()
    {
        if (MaxBodyBytes < 1024 || MaxEventsPerRequest < 1 || WriterBatchSize < 1 || WriterConcurrency < 1
            || WriterMaxWait < TimeSpan.Zero || QueryTimeout <= TimeSpan.Zero)
            throw new InvalidOperationException("Invalid Events options.");
    }
}
