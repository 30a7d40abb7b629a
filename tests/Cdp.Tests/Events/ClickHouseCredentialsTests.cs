using Cdp.Shared.Events;
using Cdp.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Cdp.Tests.Events;

/// <summary>A connection string with user:password (as the Azure deployment stores it) authenticates with HTTP Basic.</summary>
public sealed class ClickHouseCredentialsTests
{
    static ClickHouseHttp Client(string connectionString) => new(new HttpClient(),
        new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:ClickHouse"] = connectionString }).Build(),
        Options.Create(new EventsOptions()));

    static string WithUser(string user, string password) => new UriBuilder(LocalServers.ClickHouse) { UserName = user, Password = password }.Uri.ToString();

    [Fact]
    public async Task The_user_in_the_connection_string_is_sent_and_checked_by_the_server()
    {
        Assert.Equal(["1"], await Client(LocalServers.ClickHouse).QueryLinesAsync("SELECT 1", CancellationToken.None));

        var refused = await Assert.ThrowsAsync<ClickHouseException>(() => Client(WithUser("nobody", "wrong")).QueryLinesAsync("SELECT 1", CancellationToken.None));
        Assert.Contains("nobody", refused.Message);
    }
}
