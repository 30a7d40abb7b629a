namespace Cdp.Orchestrations.Engine;

/// <summary>
/// Runs an orchestrator's continuations one at a time on the thread that drains it, never inline and never on the
/// thread pool, so a replay does the same things in the same order every time. When <see cref="Drain"/> returns,
/// every continuation that could run has run: if the orchestrator's task is still incomplete it is blocked on a
/// context task whose result is not in history yet, and the episode ends there.
/// </summary>
sealed class EpisodeScheduler : TaskScheduler
{
    readonly Queue<Task> queue = new();
    readonly Lock gate = new();
    bool closed;

    public override int MaximumConcurrencyLevel => 1;

    /// <summary>Set when something was queued after the episode ended: the orchestrator awaited a non-durable task.</summary>
    public bool QueuedAfterClose { get; private set; }

    protected override void QueueTask(Task task)
    {
        lock (gate)
        {
            if (closed) { QueuedAfterClose = true; return; } // dropped: the episode is over and its state discarded
            queue.Enqueue(task);
        }
    }

    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) => false;

    protected override IEnumerable<Task> GetScheduledTasks()
    {
        lock (gate) return queue.ToArray();
    }

    public void Drain()
    {
        while (true)
        {
            Task next;
            lock (gate)
            {
                if (!queue.TryDequeue(out next!)) return;
            }
            TryExecuteTask(next);
        }
    }

    public void Close()
    {
        lock (gate)
        {
            closed = true;
            queue.Clear();
        }
    }
}
