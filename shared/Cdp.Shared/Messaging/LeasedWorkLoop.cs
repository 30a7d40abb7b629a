using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Cdp.Shared.Messaging;

/// <summary>
/// The loop shared by everything that works off leased rows (the topic consumers, the ClickHouse writer, the
/// orchestration engine): run rounds back to back while they find work; when one finds none, sleep until the
/// <see cref="Wake"/> signal, the moment <see cref="UntilDue"/> names or the poll interval, whichever comes first;
/// after a failed round back off exponentially (with jitter) and try again; renew the leases of work running in the
/// background every <see cref="RenewEvery"/>. What a round claims and how it settles it stays with the caller.
/// </summary>
public sealed class LeasedWorkLoop(string name, TimeSpan pollInterval, ILogger logger)
{
    static readonly Task Never = new TaskCompletionSource().Task;

    /// <summary>Pulsed when work is created: an idle loop looks again at once instead of at the poll interval.</summary>
    public WorkSignal? Wake { get; init; }

    /// <summary>How long until work becomes due that no signal announces (a timer, a retry, an expiring lease); null: none known.</summary>
    public Func<CancellationToken, Task<TimeSpan?>>? UntilDue { get; init; }

    /// <summary>Renews the leases of work running in the background (called between rounds, and while idle).</summary>
    public Func<Task>? Renew { get; init; }

    public TimeSpan RenewEvery { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The first back-off after a failed round (it doubles from there); the poll interval unless set.</summary>
    public TimeSpan? FirstBackoff { get; init; }

    /// <summary>The longest back-off after failed rounds.</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Runs <paramref name="round"/> until <paramref name="stopping"/>. A round returns how much it found: more than
    /// zero runs the next round at once, zero sleeps. An exception from a round is logged and backed off from.
    /// </summary>
    public async Task RunAsync(Func<CancellationToken, Task<int>> round, CancellationToken stopping)
    {
        var failures = 0;
        var lastRenewal = Stopwatch.GetTimestamp();
        while (!stopping.IsCancellationRequested)
        {
            if (Renew is not null && Stopwatch.GetElapsedTime(lastRenewal) >= RenewEvery)
            {
                await RenewQuietly();
                lastRenewal = Stopwatch.GetTimestamp();
            }
            // Taken before the round: a pulse while it runs ends the sleep after it.
            var woken = Wake?.Next ?? Never;
            int found;
            try
            {
                found = await round(stopping);
                failures = 0;
            }
            catch (Exception ex) when (!stopping.IsCancellationRequested)
            {
                // A database outage or a bug in our own SQL: keep the loop alive and back off (signals do not cut this short).
                failures++;
                var delay = RetryBackoff.Delay(failures, FirstBackoff ?? pollInterval, MaxBackoff, Random.Shared.NextDouble());
                logger.LogError(ex, "{Loop}: round failed ({Failures} in a row), retrying in {Delay}", name, failures, delay);
                await SleepAsync(Renew is null ? delay : Min(delay, RenewEvery), Never, stopping);
                continue;
            }
            if (found > 0) continue;

            var wait = pollInterval;
            if (UntilDue is not null)
            {
                try
                {
                    if (await UntilDue(stopping) is { } due) wait = Min(wait, due < TimeSpan.Zero ? TimeSpan.Zero : due);
                }
                catch (Exception ex) when (!stopping.IsCancellationRequested)
                {
                    logger.LogWarning(ex, "{Loop}: could not tell when work is next due; sleeping the poll interval", name);
                }
            }
            if (Renew is not null) wait = Min(wait, RenewEvery - Stopwatch.GetElapsedTime(lastRenewal));
            await SleepAsync(wait, woken, stopping);
        }
    }

    /// <summary>
    /// Waits until the task <paramref name="pending"/> returns completes (it is asked again after every renewal, so
    /// work that grows meanwhile is waited for too), calling <paramref name="renew"/> every <paramref name="renewEvery"/>.
    /// Once <paramref name="stopping"/> fires it waits at most <paramref name="grace"/> more. True when the work
    /// finished; false when the grace ran out first (the caller then cancels and releases what is unfinished).
    /// </summary>
    public static async Task<bool> FinishAsync(
        Func<Task> pending, TimeSpan renewEvery, Func<Task> renew, CancellationToken stopping, TimeSpan grace)
    {
        using var graceOver = new CancellationTokenSource();
        await using (stopping.Register(() => graceOver.CancelAfter(grace)))
        {
            while (true)
            {
                var work = pending();
                if (work.IsCompleted) return true;
                if (graceOver.IsCancellationRequested) return false;
                await SleepAsync(renewEvery, work, graceOver.Token);
                if (pending().IsCompleted) return true;
                if (graceOver.IsCancellationRequested) return false;
                await renew();
            }
        }
    }

    async Task RenewQuietly()
    {
        try { await Renew!(); }
        catch (Exception ex) { logger.LogWarning(ex, "{Loop}: lease renewal failed", name); }
    }

    /// <summary>Sleeps <paramref name="delay"/>, less if <paramref name="wake"/> completes or <paramref name="ct"/> fires; never throws.</summary>
    static async Task SleepAsync(TimeSpan delay, Task wake, CancellationToken ct)
    {
        if (delay <= TimeSpan.Zero || wake.IsCompleted || ct.IsCancellationRequested) return;
        using var cut = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var sleep = Task.Delay(delay, cut.Token);
        await Task.WhenAny(sleep, wake).ConfigureAwait(false);
        await cut.CancelAsync();
        try { await sleep.ConfigureAwait(false); }
        catch (OperationCanceledException) { }
    }

    static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
