using System.Diagnostics;
using Cdp.Orchestrations;
using Cdp.Tests.Support;

namespace Cdp.Tests.Orchestrations;

public sealed class TimersAndEventsTests(PostgresDatabase pg) : IClassFixture<PostgresDatabase>
{
    [Fact]
    public async Task A_durable_timer_fires_at_its_time()
    {
        await using var kit = new OrchestrationTestKit(pg.DataSource);
        await kit.StartWorker();
        var clock = Stopwatch.StartNew();

        var status = await kit.Run(nameof(Sleeper), 400);

        Assert.Equal(OrchestrationRuntimeStatus.Completed, status.RuntimeStatus);
        Assert.True(clock.ElapsedMilliseconds >= 400, $"fired after {clock.ElapsedMilliseconds} ms");
        var woke = status.ReadOutputAs<DateTime>();
        Assert.True(woke >= status.CreatedTime.UtcDateTime.AddMilliseconds(400), $"replay time {woke:o} vs created {status.CreatedTime:o}");
    }

    [Fact]
    public async Task A_timer_row_survives_a_worker_restart_and_fires_from_the_next_worker()
    {
        await using var kit = new OrchestrationTestKit(pg.DataSource);
        var first = await kit.StartWorker();
        // 4 s: room for a busy machine to see the row and stop the worker before the timer is due.
        var started = DateTimeOffset.UtcNow;
        var id = await kit.Client.StartAsync(nameof(Sleeper), 4000);
        await Eventually.Until(async () => await kit.Count(
            "select count(*) from orchestration_work where instance_id = $1 and kind = 'timer'", id) == 1, TimeSpan.FromSeconds(5), "timer row");
        await kit.StopWorker(first);

        // Past the timer's due time with no worker running: nobody fired it.
        var due = started + TimeSpan.FromSeconds(4.3) - DateTimeOffset.UtcNow;
        if (due > TimeSpan.Zero) await Task.Delay(due);
        Assert.Equal(OrchestrationRuntimeStatus.Running, (await kit.Client.GetStatusAsync(id))!.RuntimeStatus);
        await kit.StartWorker();

        var status = await kit.Client.WaitForCompletionAsync(id, TimeSpan.FromSeconds(30));
        Assert.Equal(OrchestrationRuntimeStatus.Completed, status.RuntimeStatus);
    }

    [Fact]
    public async Task WaitForExternalEvent_receives_a_raised_event()
    {
        await using var kit = new OrchestrationTestKit(pg.DataSource);
        await kit.StartWorker();
        var id = await kit.Client.StartAsync(nameof(Approval), 30_000);
        await Eventually.Until(async () => (await kit.Client.GetStatusAsync(id))!.CustomStatus?.GetString() == "waiting",
            TimeSpan.FromSeconds(5), "waiting");

        await kit.Client.RaiseEventAsync(id, "Approved", "li.lei");

        var status = await kit.Client.WaitForCompletionAsync(id, TimeSpan.FromSeconds(10));
        Assert.Equal("approved by li.lei", status.ReadOutputAs<string>());
        // The timeout's timer row went with the instance.
        Assert.Equal(0, await kit.Count("select count(*) from orchestration_work where instance_id = $1", id));
    }

    [Fact]
    public async Task WaitForExternalEvent_times_out_into_TaskCanceledException()
    {
        await using var kit = new OrchestrationTestKit(pg.DataSource);
        await kit.StartWorker();

        var status = await kit.Run(nameof(Approval), 300);

        Assert.Equal("timed out", status.ReadOutputAs<string>());
    }

    [Fact]
    public async Task Events_raised_before_the_wait_are_buffered_in_order()
    {
        await using var kit = new OrchestrationTestKit(pg.DataSource);
        await kit.StartWorker();
        var id = await kit.Client.StartAsync(nameof(LateApproval), 500);

        await kit.Client.RaiseEventAsync(id, "Approved", "first");
        await kit.Client.RaiseEventAsync(id, "approved", "second"); // names match case-insensitively, as in Durable

        var status = await kit.Client.WaitForCompletionAsync(id, TimeSpan.FromSeconds(10));
        Assert.Equal("first,second", status.ReadOutputAs<string>());
    }

    [Fact]
    public async Task Terminating_a_waiting_instance_ends_it_and_its_pending_timer_does_nothing()
    {
        await using var kit = new OrchestrationTestKit(pg.DataSource);
        await kit.StartWorker();
        var id = await kit.Client.StartAsync(nameof(Approval), 500);
        await Eventually.Until(async () => await kit.Count(
            "select count(*) from orchestration_work where instance_id = $1 and kind = 'timer'", id) == 1, TimeSpan.FromSeconds(5), "timer row");

        await kit.Client.TerminateAsync(id, "no longer needed");
        await kit.Client.RaiseEventAsync(id, "Approved", "too late");
        await Task.Delay(800); // past the timeout: nothing may wake the instance

        var status = await kit.Client.GetStatusAsync(id);
        Assert.Equal(OrchestrationRuntimeStatus.Terminated, status!.RuntimeStatus);
        Assert.Equal("no longer needed", status.ReadOutputAs<string>());
        Assert.Equal(0, await kit.Count("select count(*) from orchestration_work where instance_id = $1", id));
        Assert.Equal(0, await kit.Count(
            "select count(*) from orchestration_history where instance_id = $1 and kind in ('TimerFired', 'EventRaised')", id));
    }
}
