using Microsoft.DurableTask.Client;

namespace Cdp.Functions.Durable;

/// <summary>
/// Durable hands its client to a function only through the [DurableClient] binding, while the core reaches
/// orchestrations through the singleton <see cref="Cdp.Orchestrations.IOrchestrationClient"/>. A function that starts
/// or inspects orchestrations opens a scope with its bound client; the adapter uses it for the rest of that invocation's
/// async flow (the same idea as IHttpContextAccessor).
/// </summary>
public sealed class DurableClientScope
{
    readonly AsyncLocal<DurableTaskClient?> current = new();

    public DurableTaskClient Client => current.Value
        ?? throw new InvalidOperationException("No Durable client in scope: the function must bind [DurableClient] and call DurableClientScope.Use.");

    public IDisposable Use(DurableTaskClient client)
    {
        var previous = current.Value;
        current.Value = client;
        return new Restore(this, previous);
    }

    sealed class Restore(DurableClientScope scope, DurableTaskClient? previous) : IDisposable
    {
        public void Dispose() => scope.current.Value = previous;
    }
}
