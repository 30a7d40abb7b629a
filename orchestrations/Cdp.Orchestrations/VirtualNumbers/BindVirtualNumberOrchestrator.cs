using Cdp.Shared.VirtualNumbers;

namespace Cdp.Orchestrations.VirtualNumbers;

public sealed record BindVirtualNumberInput(Guid BindingId, DateTime ExpiresAtUtc, BindingSchedule Schedule);

public sealed record BindVirtualNumberOutput(Guid BindingId, string State, string? Code, int Attempts);

public sealed record BindAttemptInput(Guid BindingId, int Attempt);

public sealed record GiveUpBindingInput(Guid BindingId, string? Code, string? Error);

/// <summary>
/// Seed 002's binding, one instance per binding (<c>vn-bind-{bindingId}</c>): attempts against the provider, the
/// waits between them durable timers with backoff; after the last retry NOT_BIND and one alert. Once bound it waits
/// for the expiry (a durable timer) or an <see cref="UnbindEvent"/>, whichever comes first, and unbinds.
/// </summary>
public sealed class BindVirtualNumberOrchestrator : Orchestrator<BindVirtualNumberInput, BindVirtualNumberOutput>
{
    public const string UnbindEvent = "unbind";

    /// <summary>For infrastructure failures inside one step (database restarting); the provider's own failures are attempts.</summary>
    static readonly RetryPolicy StepRetry = new(3, TimeSpan.FromMilliseconds(500), 2.0, TimeSpan.FromSeconds(5));

    public static string InstanceIdOf(Guid bindingId) => $"vn-bind-{bindingId}";

    public override async Task<BindVirtualNumberOutput> RunAsync(IOrchestrationContext context, BindVirtualNumberInput input)
    {
        ArgumentNullException.ThrowIfNull(context);
        var schedule = input.Schedule;
        BindingAttempt outcome = new(BindingAttempt.Retry, null, null);
        var attempt = 0;
        while (attempt < schedule.MaxAttempts)
        {
            attempt++;
            if (attempt > 1)
            {
                context.SetCustomStatus($"OPERATION: attempt {attempt - 1} failed ({outcome.Code}); next in {schedule.DelayBefore(attempt)}");
                await context.CreateTimer(context.CurrentUtcDateTime + schedule.DelayBefore(attempt), CancellationToken.None);
            }
            try
            {
                outcome = await context.CallActivityAsync<BindingAttempt>(nameof(AttemptVirtualNumberBinding), new BindAttemptInput(input.BindingId, attempt), StepRetry);
            }
            catch (TaskFailedException e)
            {
                outcome = new(BindingAttempt.Retry, "step_failed", e.FailureDetails.ErrorMessage);
            }
            if (outcome.Outcome != BindingAttempt.Retry) break;
        }

        if (outcome.Outcome != BindingAttempt.Bound)
        {
            if (outcome.Outcome == BindingAttempt.Retry)
                await context.CallActivityAsync<bool>(nameof(GiveUpVirtualNumberBinding), new GiveUpBindingInput(input.BindingId, outcome.Code, outcome.Error), StepRetry);
            // Refusals of the caller's input (an illegal number) are answered to the caller, not ops.
            if (outcome.Code != ProviderCodes.MobileNumberIllegal)
            {
                context.SetCustomStatus("NOT_BIND; alerting");
                try { await context.CallActivityAsync<bool>(nameof(AlertVirtualNumberBinding), input.BindingId, StepRetry); }
                catch (TaskFailedException) { context.SetCustomStatus("NOT_BIND; alert could not be sent"); }
            }
            return new BindVirtualNumberOutput(input.BindingId, BindingStates.NotBind, outcome.Code, attempt);
        }

        context.SetCustomStatus("BIND");
        var left = input.ExpiresAtUtc - context.CurrentUtcDateTime;
        if (left > TimeSpan.Zero)
        {
            try { await context.WaitForExternalEvent<string>(UnbindEvent, left); }
            catch (TaskCanceledException) { /* expired: unbind now */ }
        }
        context.SetCustomStatus("unbinding");
        var state = await context.CallActivityAsync<string>(nameof(UnbindVirtualNumber), input.BindingId,
            new RetryPolicy(5, TimeSpan.FromSeconds(1), 2.0, TimeSpan.FromMinutes(1)));
        return new BindVirtualNumberOutput(input.BindingId, state, null, attempt);
    }
}

public sealed class AttemptVirtualNumberBinding(VirtualNumberBinder binder) : Activity<BindAttemptInput, BindingAttempt>
{
    public override Task<BindingAttempt> RunAsync(BindAttemptInput input, CancellationToken cancellationToken) =>
        binder.AttemptAsync(input.BindingId, input.Attempt, cancellationToken);
}

public sealed class GiveUpVirtualNumberBinding(VirtualNumberBinder binder) : Activity<GiveUpBindingInput, bool>
{
    public override Task<bool> RunAsync(GiveUpBindingInput input, CancellationToken cancellationToken) =>
        binder.GiveUpAsync(input.BindingId, input.Code, input.Error, cancellationToken);
}

public sealed class AlertVirtualNumberBinding(VirtualNumberBinder binder) : Activity<Guid, bool>
{
    public override Task<bool> RunAsync(Guid input, CancellationToken cancellationToken) => binder.AlertAsync(input, cancellationToken);
}

public sealed class UnbindVirtualNumber(VirtualNumberBinder binder) : Activity<Guid, string>
{
    public override Task<string> RunAsync(Guid input, CancellationToken cancellationToken) => binder.UnbindAsync(input, cancellationToken);
}
