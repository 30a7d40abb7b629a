using Cdp.Shared.Access;
using Cdp.Shared.Messaging;
using Cdp.Tests.Support;
using Microsoft.Extensions.Logging;
using Npgsql;
using static Cdp.Tests.Messaging.TopicTestKit;

namespace Cdp.Tests.Messaging;

/// <summary>PIPL: topic keys are phones, emails and unionIds (<c>lead:{mobile}</c>); a failing message logs only their keyed hash.</summary>
public sealed class LogKeyPrivacyTests(PostgresDatabase pg) : IClassFixture<PostgresDatabase>
{
    readonly NpgsqlDataSource db = pg.DataSource;

    internal static string[] PersonalKeys(out string[] secrets)
    {
        var mobile = TestData.Mobile();
        var email = TestData.Email();
        var unionId = "oUnion" + Guid.NewGuid().ToString("N");
        secrets = [mobile, email, unionId];
        return [$"lead:{mobile}", $"contact:{email}", $"wechat:{unionId}"];
    }

    internal static void AssertNoneIn(IEnumerable<string> lines, string[] secrets, string[] keys)
    {
        var all = lines.ToList();
        Assert.NotEmpty(all);
        foreach (var line in all)
            foreach (var secret in secrets)
                Assert.DoesNotContain(secret, line);
        foreach (var key in keys)   // still traceable: the hash of each key is there
            Assert.Contains(all, line => line.Contains(PiiHash.Of(key)!));
    }

    [Fact]
    public async Task A_consumer_retrying_and_dead_lettering_personal_keys_logs_only_their_hash()
    {
        var capture = new LogCapture();
        using var factory = LoggerFactory.Create(b => b.AddProvider(capture).SetMinimumLevel(LogLevel.Trace));
        var topic = NewTopic();
        var keys = PersonalKeys(out var secrets);
        using var consumer = await Start(db, topic, (m, _) => throw new InvalidOperationException("downstream unavailable"),
            logger: factory.CreateLogger<TopicConsumer>());

        for (var i = 0; i < keys.Length; i++) await Publish(db, topic, keys[i], i);
        await Eventually.Until(async () => await Rows(db, topic, "status = 'dead'") == keys.Length, TimeSpan.FromSeconds(30), "dead-lettered");
        await consumer.StopAsync(CancellationToken.None);

        AssertNoneIn(capture.Lines, secrets, keys);
    }

    [Fact]
    public void The_hash_is_short_keyed_and_stable()
    {
        Assert.Equal(PiiHash.Of("lead:13812345678"), PiiHash.Of("lead:13812345678"));
        Assert.NotEqual(PiiHash.Of("lead:13812345678"), PiiHash.Of("lead:13812345679"));
        Assert.Matches("^h:[0-9a-f]{12}$", PiiHash.Of("x")!);
        Assert.Null(PiiHash.Of(null));
    }
}
