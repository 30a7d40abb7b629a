using Cdp.Shared.Privacy;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Cdp.Orchestrations.Privacy;

/// <summary>
/// One erasure (<see cref="EraseSubject"/>), started as <see cref="InstanceId"/> so a request has one run at a time. The
/// activity's steps are idempotent and recorded on the request row, so a retry or a resumed run continues where the last
/// one stopped. Spent retries mark the request failed; housekeeping starts it again later.
/// </summary>
public sealed class EraseSubjectOrchestrator : Orchestrator<Guid, string>
{
    public static readonly RetryPolicy Retry = new(6, TimeSpan.FromSeconds(2), BackoffCoefficient: 2, MaxRetryInterval: TimeSpan.FromMinutes(1));

    public static string InstanceId(Guid requestId) => $"privacy-erase-{requestId}";

    public static Task<string> StartAsync(IOrchestrationClient orchestrations, Guid requestId) =>
        orchestrations.StartAsync(nameof(EraseSubjectOrchestrator), requestId, InstanceId(requestId));

    public override async Task<string> RunAsync(IOrchestrationContext context, Guid input)
    {
        ArgumentNullException.ThrowIfNull(context);
        try
        {
            return await context.CallActivityAsync<string>(nameof(EraseSubjectActivity), input, Retry);
        }
        catch (TaskFailedException e)
        {
            await context.CallActivityAsync<bool>(nameof(MarkPrivacyRequestFailed), new PrivacyRequestFailure(input, e.Message));
            return "failed";
        }
    }
}

public sealed record PrivacyRequestFailure(Guid RequestId, string Error);

public sealed class EraseSubjectActivity(EraseSubject erase) : Activity<Guid, string>
{
    public override Task<string> RunAsync(Guid input, CancellationToken cancellationToken) => erase.RunAsync(input, cancellationToken);
}

public sealed class MarkPrivacyRequestFailed(EraseSubject erase) : Activity<PrivacyRequestFailure, bool>
{
    public override async Task<bool> RunAsync(PrivacyRequestFailure input, CancellationToken cancellationToken)
    {
        await erase.MarkFailedAsync(input.RequestId, input.Error, cancellationToken);
        return true;
    }
}

/// <summary>
/// Housekeeping's part: an erase request not finished and untouched for <see cref="MinimumAge"/> (its start was lost to a
/// crash, or its run gave up) is started again unless a run of it is still going.
/// </summary>
public sealed class ResumePrivacyRequests(EraseSubject erase, IOrchestrationClient orchestrations, TimeProvider clock, ILogger<ResumePrivacyRequests> logger)
{
    public static readonly TimeSpan MinimumAge = TimeSpan.FromMinutes(5);

    public async Task<int> RunAsync(CancellationToken ct)
    {
        var started = 0;
        foreach (var id in await erase.UnfinishedSinceAsync(clock.GetUtcNow() - MinimumAge, ct))
        {
            if (await orchestrations.GetStatusAsync(EraseSubjectOrchestrator.InstanceId(id)) is { IsFinished: false }) continue;
            await EraseSubjectOrchestrator.StartAsync(orchestrations, id);
            started++;
        }
        if (started > 0) logger.LogWarning("Resumed {Count} unfinished privacy request(s)", started);
        return started;
    }
}

public static class PrivacyOrchestrationExtensions
{
    /// <summary>The erase orchestration and its activities, and the housekeeping step that resumes unfinished requests.</summary>
    public static IServiceCollection AddPrivacyErasure(this IServiceCollection services) =>
        services.AddSingleton<ResumePrivacyRequests>()
            .AddOrchestrator<EraseSubjectOrchestrator>().AddActivity<EraseSubjectActivity>().AddActivity<MarkPrivacyRequestFailed>();
}
