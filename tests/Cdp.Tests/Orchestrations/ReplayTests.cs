using Cdp.Orchestrations;
using Cdp.Orchestrations.Engine;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Cdp.Tests.Orchestrations;

/// <summary>The replayer against hand-written histories: no database.</summary>
public sealed class ReplayTests
{
    static readonly DateTime T0 = new(2026, 3, 1, 8, 0, 0, DateTimeKind.Utc);

    static HistoryEvent Event(long id, string kind, int? seq = null, string? name = null, string? payload = null, int seconds = 0) =>
        new(id, kind, seq, name, null, payload, null, null, null, T0.AddSeconds(seconds));

    [Fact]
    public void A_call_found_in_history_completes_from_it_and_the_next_call_becomes_new_work()
    {
        var history = new[]
        {
            Event(1, EventKind.Started),
            Event(2, EventKind.ActivityScheduled, 0, nameof(AddOne)),
            Event(3, EventKind.ActivityCompleted, 0, nameof(AddOne), "1", seconds: 5),
        };

        var result = Replayer.Run(new Chain(), "i-1", null, history, replayedUpto: 2);

        Assert.Equal(EpisodeOutcome.Blocked, result.Outcome);
        var action = Assert.Single(result.Actions);
        Assert.Equal((EventKind.ActivityScheduled, 1, nameof(AddOne)), (action.Kind, action.Seq, action.Name));
        Assert.Equal("""{"key":"i-1","value":1}""", action.Input);
        Assert.Equal("""{"step":1}""", result.CustomStatus);
    }

    [Fact]
    public void A_whole_history_replays_to_completion_without_new_work()
    {
        var history = new List<HistoryEvent> { Event(1, EventKind.Started) };
        for (var seq = 0; seq < 3; seq++)
        {
            history.Add(Event(history.Count + 1, EventKind.ActivityScheduled, seq, nameof(AddOne)));
            history.Add(Event(history.Count + 1, EventKind.ActivityCompleted, seq, nameof(AddOne), $"{seq + 1}"));
        }

        var result = Replayer.Run(new Chain(), "i-2", null, history, replayedUpto: 6);

        Assert.Equal(EpisodeOutcome.Completed, result.Outcome);
        Assert.Equal("3", result.Output);
        Assert.Empty(result.Actions);
    }

    [Fact]
    public void A_timer_in_history_fires_at_its_recorded_time()
    {
        var history = new[]
        {
            Event(1, EventKind.Started),
            Event(2, EventKind.TimerCreated, 0),
            Event(3, EventKind.TimerFired, 0, seconds: 30),
        };

        var result = Replayer.Run(new Sleeper(), "i-3", "1000", history, replayedUpto: 2);

        Assert.Equal(EpisodeOutcome.Completed, result.Outcome);
        Assert.Equal($"\"{T0.AddSeconds(30):yyyy-MM-ddTHH:mm:ssZ}\"", result.Output);
    }

    [Fact]
    public void Awaiting_a_task_that_is_not_the_contexts_fails_the_instance_instead_of_hanging()
    {
        var result = Replayer.Run(new Dozer(), "i-4", null, [Event(1, EventKind.Started)], replayedUpto: 0);

        Assert.Equal(EpisodeOutcome.Failed, result.Outcome);
        Assert.Contains("not durable", result.Failure!.ErrorMessage);
    }

    [Fact]
    public void A_call_the_code_no_longer_makes_is_non_deterministic()
    {
        var history = new[]
        {
            Event(1, EventKind.Started),
            Event(2, EventKind.ActivityScheduled, 0, nameof(AddOne)),
            Event(3, EventKind.TimerCreated, 1),
        };

        var result = Replayer.Run(new Chain(), "i-5", null, history, replayedUpto: 3);

        Assert.Equal(EpisodeOutcome.Failed, result.Outcome);
        Assert.Equal(typeof(NonDeterministicOrchestrationException).FullName, result.Failure!.ErrorType);
    }

    [Fact]
    public void Options_bind_from_the_Orchestrations_section_and_bad_values_are_refused()
    {
        static IOptions<OrchestrationOptions> Bind(Dictionary<string, string?> values)
        {
            var services = new ServiceCollection();
            services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(values).Build());
            services.AddLocalOrchestrations();
            return services.BuildServiceProvider().GetRequiredService<IOptions<OrchestrationOptions>>();
        }

        var options = Bind(new() { ["Orchestrations:LeaseDuration"] = "00:00:05", ["Orchestrations:Concurrency"] = "3" }).Value;
        Assert.Equal((TimeSpan.FromSeconds(5), 3), (options.LeaseDuration, options.Concurrency));
        Assert.Throws<OptionsValidationException>(() => Bind(new() { ["Orchestrations:Concurrency"] = "0" }).Value);
    }

    sealed class Dozer : Orchestrator<string?, string>
    {
        public override async Task<string> RunAsync(IOrchestrationContext context, string? input)
        {
            await Task.Delay(TimeSpan.FromMinutes(1)); // breaks the rules on purpose
            return "never";
        }
    }
}
