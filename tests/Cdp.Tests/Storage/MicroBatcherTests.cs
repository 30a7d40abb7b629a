using Cdp.Shared.Storage;

namespace Cdp.Tests.Storage;

/// <summary>
/// The batching every shared 360 read goes through (ClickHouse counts, audit rows of reads): callers queued while a batch
/// runs go together in the next one, each gets its own result, and a failed batch fails each of its callers.
/// </summary>
public sealed class MicroBatcherTests
{
    static readonly TimeSpan Slack = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Callers_queued_while_a_batch_runs_go_together_in_the_next_and_each_gets_its_own_result()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var batches = new List<int[]>();
        var batcher = new MicroBatcher<int, string>(async items =>
        {
            lock (batches) batches.Add([.. items]);
            started.TrySetResult();
            await gate.Task;
            return [.. items.Select(i => $"answer {i}")];
        }, maxBatch: 100, inFlight: 1);

        var first = batcher.SubmitAsync(1);
        await started.Task.WaitAsync(Slack);   // the first batch holds the only slot
        var others = Enumerable.Range(2, 9).Select(batcher.SubmitAsync).ToList();
        gate.SetResult();

        Assert.Equal("answer 1", await first.WaitAsync(Slack));
        var answers = await Task.WhenAll(others).WaitAsync(Slack);
        Assert.Equal(Enumerable.Range(2, 9).Select(i => $"answer {i}"), answers);
        Assert.Equal([[1], [2, 3, 4, 5, 6, 7, 8, 9, 10]], batches);
        Assert.Equal(2, batcher.Batches);
    }

    [Fact]
    public async Task A_batch_that_fails_fails_each_of_its_callers_and_the_next_batch_still_runs()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = 0;
        var batcher = new MicroBatcher<int, int>(async items =>
        {
            var call = Interlocked.Increment(ref calls);
            started.TrySetResult();
            await gate.Task;
            if (call == 2) throw new InvalidOperationException("the server said no");
            return [.. items.Select(i => i * 10)];
        }, maxBatch: 100, inFlight: 1);

        var first = batcher.SubmitAsync(1);
        await started.Task.WaitAsync(Slack);
        var failing = Enumerable.Range(2, 5).Select(batcher.SubmitAsync).ToList();   // all queued behind the first: the second batch
        gate.SetResult();

        Assert.Equal(10, await first.WaitAsync(Slack));
        foreach (var waiter in failing)
            Assert.Equal("the server said no", (await Assert.ThrowsAsync<InvalidOperationException>(() => waiter.WaitAsync(Slack))).Message);
        Assert.Equal(70, await batcher.SubmitAsync(7).WaitAsync(Slack));
        Assert.Equal(3, batcher.Batches);
    }

    [Fact]
    public async Task A_batch_answered_with_the_wrong_number_of_results_fails_its_callers_instead_of_mixing_answers_up()
    {
        var batcher = new MicroBatcher<int, int>(items => Task.FromResult<IReadOnlyList<int>>([.. items.Skip(1)]), maxBatch: 100, inFlight: 1);
        await Assert.ThrowsAsync<InvalidOperationException>(() => batcher.SubmitAsync(1).WaitAsync(Slack));
    }

    [Fact]
    public async Task Many_concurrent_callers_with_several_slots_all_get_their_own_answer()
    {
        var batcher = new MicroBatcher<int, int>(async items =>
        {
            await Task.Yield();
            return [.. items.Select(i => -i)];
        }, maxBatch: 7, inFlight: 3);
        var answers = await Task.WhenAll(Enumerable.Range(0, 1000).Select(i => Task.Run(() => batcher.SubmitAsync(i)))).WaitAsync(Slack);
        Assert.Equal(Enumerable.Range(0, 1000).Select(i => -i), answers);
        Assert.InRange(batcher.Batches, 1000 / 7, 1000);
    }
}
