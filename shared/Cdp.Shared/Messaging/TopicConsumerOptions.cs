using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Cdp.Shared.Messaging;

/// <summary>
/// How one topic is consumed. Bound per topic from <c>Topics:{topic}</c> over defaults from <c>Topics:Default</c>
/// (named options, the name being the topic).
/// </summary>
public sealed class TopicConsumerOptions
{
    /// <summary>False: this host leaves the topic to other hosts (its messages wait in topic_message).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Most messages taken in one claim round (at most one per key, the key's head).</summary>
    public int BatchSize { get; set; } = 64;

    public int MaxConcurrency { get; set; } = 16;

    /// <summary>How long a claim is ours without renewal; a crashed process's claims come back after it.</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long an idle consumer waits before looking again; a round that found work looks again at once.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Attempts before a message is dead-lettered (a dead letter no longer blocks its key).</summary>
    public int MaxAttempts { get; set; } = 8;

    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long in-flight handlers may finish on shutdown before their claims are released.</summary>
    public TimeSpan ShutdownGrace { get; set; } = TimeSpan.FromSeconds(10);

    public void Validate(string topic)
    {
        var errors = new List<string>();
        if (BatchSize < 1) errors.Add(nameof(BatchSize));
        if (MaxConcurrency < 1) errors.Add(nameof(MaxConcurrency));
        if (LeaseDuration < TimeSpan.FromMilliseconds(300)) errors.Add(nameof(LeaseDuration));
        if (PollInterval <= TimeSpan.Zero) errors.Add(nameof(PollInterval));
        if (MaxAttempts < 1) errors.Add(nameof(MaxAttempts));
        if (RetryBaseDelay < TimeSpan.Zero || RetryMaxDelay < RetryBaseDelay) errors.Add(nameof(RetryMaxDelay));
        if (ShutdownGrace < TimeSpan.Zero) errors.Add(nameof(ShutdownGrace));
        if (errors.Count > 0)
            throw new OptionsValidationException(topic, typeof(TopicConsumerOptions), [$"Invalid topic options for {topic}: {string.Join(", ", errors)}"]);
    }
}

/// <summary>Binds <c>Topics:Default</c> then <c>Topics:{name}</c> for every named instance.</summary>
sealed class BindTopicConsumerOptions(IConfiguration? configuration) : IConfigureNamedOptions<TopicConsumerOptions>
{
    public void Configure(TopicConsumerOptions options) => Configure(Options.DefaultName, options);

    public void Configure(string? name, TopicConsumerOptions options)
    {
        if (configuration is null) return;
        configuration.GetSection("Topics:Default").Bind(options);
        if (!string.IsNullOrEmpty(name)) configuration.GetSection($"Topics:{name}").Bind(options);
    }
}
