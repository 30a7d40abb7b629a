using Cdp.Shared.Messaging;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Middleware;

namespace Cdp.Functions.Outbox;

/// <summary>
/// Wakes the outbox relay once an invocation has finished: whatever the core committed to topic_message during it is
/// visible by then, so it goes to Event Hubs at once rather than at the next sweep.
/// </summary>
sealed class OutboxSignalMiddleware(OutboxSignal signal) : IFunctionsWorkerMiddleware
{
    public async Task Invoke(FunctionContext context, FunctionExecutionDelegate next)
    {
        try { await next(context); }
        finally { signal.Notify(); }
    }
}
