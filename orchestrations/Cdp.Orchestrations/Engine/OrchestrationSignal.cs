using Cdp.Shared.Messaging;

namespace Cdp.Orchestrations.Engine;

/// <summary>
/// How the local engine's workers learn of new work without polling: <see cref="Work"/> is pulsed in this process
/// when it creates work, and <see cref="Channel"/> carries a Postgres NOTIFY to the workers of every process.
/// </summary>
public sealed class OrchestrationSignal
{
    public const string Channel = "cdp_orchestration_work";

    public WorkSignal Work { get; } = new();
}
