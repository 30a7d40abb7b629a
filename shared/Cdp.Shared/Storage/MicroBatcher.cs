using System.Collections.Concurrent;

namespace Cdp.Shared.Storage;

/// <summary>
/// Concurrent callers' requests answered together: each caller queues its item and awaits its own result, and one call
/// of the batch function answers everything queued at that moment (up to <c>maxBatch</c>). At most <c>inFlight</c>
/// batches run at once; callers arriving meanwhile go together in the next one, so a server sees a few large requests
/// instead of many small ones, and a lone caller is sent at once (no window to wait out: while a batch runs, the next
/// one gathers by itself).
/// A batch that throws fails every one of its waiters with that exception. No thread or task lives between batches:
/// a drainer is started when a caller finds none free and ends when the queue is empty.
/// </summary>
/// <param name="run">Answers a batch: one result per item, in the items' order.</param>
/// <param name="weight">
/// An item's share of <c>maxBatch</c> (default 1): a batch stops taking items once their weights reach it (an item is
/// never split, so a batch may pass it by less than one item's weight).
/// </param>
public sealed class MicroBatcher<TItem, TResult>(
    Func<IReadOnlyList<TItem>, Task<IReadOnlyList<TResult>>> run, int maxBatch, int inFlight, Func<TItem, int>? weight = null)
{
    readonly ConcurrentQueue<Pending> pending = new();
    int drainers;
    long batches;

    /// <summary>Batches run so far (tests and benchmarks count requests per batch with it).</summary>
    public long Batches => Interlocked.Read(ref batches);

    /// <summary>
    /// The item's result once its batch has run. Not cancellable once queued: the batch goes ahead either way (a caller
    /// that stops waiting may use <see cref="Task.WaitAsync(CancellationToken)"/>).
    /// </summary>
    public Task<TResult> SubmitAsync(TItem item)
    {
        var request = new Pending(item);
        pending.Enqueue(request);
        TryStartDrainer();
        return request.Result.Task;
    }

    /// <summary>
    /// Queues every item before a drainer is started, so items submitted together go in one batch when no batch runs
    /// and they fit in <c>maxBatch</c> (tests use it to know what was committed together).
    /// </summary>
    public IReadOnlyList<Task<TResult>> SubmitMany(IEnumerable<TItem> items)
    {
        var requests = items.Select(item => new Pending(item)).ToList();
        foreach (var request in requests) pending.Enqueue(request);
        TryStartDrainer();
        return [.. requests.Select(r => r.Result.Task)];
    }

    void TryStartDrainer()
    {
        while (true)
        {
            var running = Volatile.Read(ref drainers);
            if (running >= inFlight) return;   // a running one takes the request
            if (Interlocked.CompareExchange(ref drainers, running + 1, running) != running) continue;
            _ = Task.Run(DrainAsync);
            return;
        }
    }

    async Task DrainAsync()
    {
        try
        {
            while (true)
            {
                var batch = new List<Pending>();
                Take(batch);
                if (batch.Count == 0) break;
                await RunAsync(batch);
            }
        }
        finally
        {
            Interlocked.Decrement(ref drainers);
        }
        // A request queued after the last look, by a caller who saw every drainer busy, must not be left behind.
        if (!pending.IsEmpty) TryStartDrainer();
    }

    void Take(List<Pending> batch)
    {
        var taken = weight is null ? batch.Count : batch.Sum(p => weight(p.Item));
        while (taken < maxBatch && pending.TryDequeue(out var next))
        {
            batch.Add(next);
            taken += weight?.Invoke(next.Item) ?? 1;
        }
    }

    async Task RunAsync(List<Pending> batch)
    {
        Interlocked.Increment(ref batches);
        try
        {
            var results = await run([.. batch.Select(p => p.Item)]);
            if (results.Count != batch.Count)
                throw new InvalidOperationException($"A batch of {batch.Count} was answered with {results.Count} results.");
            for (var i = 0; i < batch.Count; i++) batch[i].Result.TrySetResult(results[i]);
        }
        catch (Exception e)
        {
            foreach (var p in batch) p.Result.TrySetException(e);
        }
    }

    sealed record Pending(TItem Item)
    {
        public TaskCompletionSource<TResult> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
