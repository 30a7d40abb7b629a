namespace Cdp.Orchestrations.Engine;

/// <summary>The local engine's worker, bound from the <c>Orchestrations</c> config section.</summary>
public sealed class OrchestrationOptions
{
    public const string Section = "Orchestrations";

    /// <summary>How long a claimed work item is ours without renewal; a killed process's items come back after it.</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long an idle worker waits before looking again; a round that found work looks again at once.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Work items (episodes and activities) one worker runs at once.</summary>
    public int Concurrency { get; set; } = 16;

    /// <summary>How long in-flight work may finish on shutdown before its leases are released.</summary>
    public TimeSpan ShutdownGrace { get; set; } = TimeSpan.FromSeconds(10);

    public IEnumerable<string> Errors()
    {
        if (LeaseDuration < TimeSpan.FromMilliseconds(300)) yield return $"{nameof(LeaseDuration)} must be at least 300 ms";
        if (PollInterval <= TimeSpan.Zero) yield return $"{nameof(PollInterval)} must be positive";
        if (Concurrency < 1) yield return $"{nameof(Concurrency)} must be at least 1";
        if (ShutdownGrace < TimeSpan.Zero) yield return $"{nameof(ShutdownGrace)} must not be negative";
    }
}
