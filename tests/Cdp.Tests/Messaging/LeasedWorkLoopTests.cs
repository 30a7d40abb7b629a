using System.Collections.Concurrent;
using System.Diagnostics;
using Cdp.Shared.Messaging;
using Cdp.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cdp.Tests.Messaging;

public sealed class LeasedWorkLoopTests
{
    static readonly TimeSpan Long = TimeSpan.FromSeconds(30);

    /// <summary>A round that counts itself and finds nothing.</summary>
    static Task<int> Idle(ref int rounds)
    {
        Interlocked.Increment(ref rounds);
        return Task.FromResult(0);
    }

    [Fact]
    public async Task Failed_rounds_back_off_longer_each_time_and_the_loop_resumes_once_they_succeed()
    {
        var rounds = new ConcurrentQueue<TimeSpan>();
        var clock = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource();
        var loop = new LeasedWorkLoop("test", TimeSpan.FromMilliseconds(200), NullLogger.Instance) { MaxBackoff = TimeSpan.FromSeconds(5) };

        var running = loop.RunAsync(_ =>
        {
            rounds.Enqueue(clock.Elapsed);
            return rounds.Count <= 3 ? throw new InvalidOperationException("database down") : Task.FromResult(rounds.Count < 6 ? 1 : 0);
        }, stop.Token);
        await Eventually.Until(() => rounds.Count >= 6, Long, "rounds after the failures");
        await stop.CancelAsync();
        await running;

        var at = rounds.ToArray();
        // Equal jitter: never sooner than half of 200, 400, 800 ms after the 1st, 2nd and 3rd failure in a row.
        Assert.True(at[1] - at[0] >= TimeSpan.FromMilliseconds(100), $"{at[1] - at[0]}");
        Assert.True(at[2] - at[1] >= TimeSpan.FromMilliseconds(200), $"{at[2] - at[1]}");
        Assert.True(at[3] - at[2] >= TimeSpan.FromMilliseconds(400), $"{at[3] - at[2]}");
    }

    [Fact]
    public async Task An_idle_loop_sleeps_through_the_poll_interval_until_the_signal_wakes_it()
    {
        var signal = new WorkSignal();
        var rounds = 0;
        using var stop = new CancellationTokenSource();
        var loop = new LeasedWorkLoop("test", TimeSpan.FromMinutes(10), NullLogger.Instance) { Wake = signal };

        var running = loop.RunAsync(_ => Idle(ref rounds), stop.Token);
        await Eventually.Until(() => Volatile.Read(ref rounds) == 1, Long);
        await Task.Delay(200);
        Assert.Equal(1, Volatile.Read(ref rounds)); // asleep: the poll interval is ten minutes
        signal.Pulse();
        await Eventually.Until(() => Volatile.Read(ref rounds) == 2, Long, "a round after the pulse");
        await stop.CancelAsync();
        await running;
    }

    [Fact]
    public async Task A_pulse_while_a_round_runs_is_not_lost()
    {
        var signal = new WorkSignal();
        var rounds = 0;
        using var stop = new CancellationTokenSource();
        var loop = new LeasedWorkLoop("test", TimeSpan.FromMinutes(10), NullLogger.Instance) { Wake = signal };

        var running = loop.RunAsync(_ =>
        {
            if (Interlocked.Increment(ref rounds) == 1) signal.Pulse(); // work created while the first round looked
            return Task.FromResult(0);
        }, stop.Token);
        await Eventually.Until(() => Volatile.Read(ref rounds) >= 2, Long, "a second round for the pulse");
        await stop.CancelAsync();
        await running;
    }

    [Fact]
    public async Task Idle_sleep_ends_when_work_falls_due_and_leases_are_renewed_meanwhile()
    {
        var rounds = 0;
        var renewals = 0;
        using var stop = new CancellationTokenSource();
        var loop = new LeasedWorkLoop("test", TimeSpan.FromMinutes(10), NullLogger.Instance)
        {
            UntilDue = _ => Task.FromResult<TimeSpan?>(TimeSpan.FromMilliseconds(100)),
            Renew = () => { Interlocked.Increment(ref renewals); return Task.CompletedTask; },
            RenewEvery = TimeSpan.FromMilliseconds(50),
        };

        var running = loop.RunAsync(_ => Idle(ref rounds), stop.Token);
        await Eventually.Until(() => Volatile.Read(ref rounds) >= 3 && Volatile.Read(ref renewals) >= 2, Long);
        await stop.CancelAsync();
        await running;
    }

    [Fact]
    public async Task Finish_renews_while_work_runs_and_gives_up_after_the_shutdown_grace()
    {
        var renewals = 0;
        var work = new TaskCompletionSource();
        using var stop = new CancellationTokenSource();

        var finishing = LeasedWorkLoop.FinishAsync(() => work.Task, TimeSpan.FromMilliseconds(30),
            () => { Interlocked.Increment(ref renewals); return Task.CompletedTask; }, stop.Token, TimeSpan.FromMilliseconds(200));
        await Eventually.Until(() => Volatile.Read(ref renewals) >= 3, Long, "renewals while the work runs");
        Assert.False(finishing.IsCompleted);
        await stop.CancelAsync();

        Assert.False(await finishing); // the work never ended: the grace ran out
        Assert.True(await LeasedWorkLoop.FinishAsync(() => Task.CompletedTask, TimeSpan.FromSeconds(1), () => Task.CompletedTask,
            CancellationToken.None, TimeSpan.Zero));
    }
}
