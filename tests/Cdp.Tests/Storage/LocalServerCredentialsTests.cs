using System.Net;
using System.Net.Sockets;
using System.Text;
using Cdp.Tests.Support;
using Npgsql;
using StackExchange.Redis;

namespace Cdp.Tests.Storage;

/// <summary>
/// The servers ./cdp runs take this install's generated credentials and nothing less: Postgres asks for a scram
/// password and the hosts' role may only read and write rows (the owner role migrates), Redis wants its password
/// before any command, ClickHouse has no user without a password.
/// </summary>
public sealed class LocalServerCredentialsTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    [Fact]
    public async Task The_hosts_postgres_role_is_no_superuser_and_may_not_create_roles_databases_or_tables()
    {
        await using var conn = new NpgsqlConnection(database.ConnectionString);
        await conn.OpenAsync();
        await using (var cmd = new NpgsqlCommand("select rolsuper, rolcreaterole, rolcreatedb from pg_roles where rolname = current_user", conn))
        await using (var reader = await cmd.ExecuteReaderAsync())
        {
            Assert.True(await reader.ReadAsync());
            Assert.Equal((false, false, false), (reader.GetBoolean(0), reader.GetBoolean(1), reader.GetBoolean(2)));
        }
        foreach (var sql in new[] { "create role cdp_test_intruder", "create database cdp_test_intruder", "create table intruder (id int)", "drop table schema_migrations" })
        {
            await using var cmd = new NpgsqlCommand(sql, conn);
            var refused = await Assert.ThrowsAsync<PostgresException>(() => cmd.ExecuteNonQueryAsync());
            Assert.True(refused.SqlState is PostgresErrorCodes.InsufficientPrivilege, $"{sql}: {refused.SqlState} {refused.MessageText}");
        }

        // Rows it may read and write, in tables the owner role made.
        await using var insert = new NpgsqlCommand("insert into staff (user_id) values ('cred-check') on conflict do nothing", conn);
        await insert.ExecuteNonQueryAsync();
        await using var owner = new NpgsqlCommand("select pg_get_userbyid(relowner) from pg_class where relname = 'staff'", conn);
        Assert.NotEqual(new NpgsqlConnectionStringBuilder(database.ConnectionString).Username, (string?)await owner.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Postgres_refuses_a_wrong_or_missing_password_and_asks_for_scram()
    {
        var wrong = new NpgsqlConnectionStringBuilder(LocalServers.Postgres) { Password = "wrong-password", Pooling = false };
        await using (var conn = new NpgsqlConnection(wrong.ToString()))
        {
            var refused = await Assert.ThrowsAsync<PostgresException>(() => conn.OpenAsync());
            Assert.Equal(PostgresErrorCodes.InvalidPassword, refused.SqlState);
        }

        var none = new NpgsqlConnectionStringBuilder(LocalServers.Postgres) { Password = null, Pooling = false, Passfile = "/dev/null" };
        await using (var conn = new NpgsqlConnection(none.ToString()))
        {
            var refused = await Assert.ThrowsAnyAsync<NpgsqlException>(() => conn.OpenAsync());
            Assert.Contains("SCRAM", refused.Message, StringComparison.Ordinal);
        }

        await using var ok = new NpgsqlConnection(LocalServers.Postgres);
        await ok.OpenAsync();
        await using var setting = new NpgsqlCommand("show password_encryption", ok);
        Assert.Equal("scram-sha-256", await setting.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Redis_answers_nothing_before_the_password()
    {
        var options = ConfigurationOptions.Parse(LocalServers.Redis);
        Assert.False(string.IsNullOrEmpty(options.Password), "the Redis connection string carries this install's password");

        Assert.StartsWith("-NOAUTH", await RedisSay(options, "PING"));
        Assert.StartsWith("-WRONGPASS", await RedisSay(options, "AUTH", "wrong-password"));
        Assert.Equal("+OK", await RedisSay(options, "AUTH", options.Password!));
    }

    [Fact]
    public async Task ClickHouse_has_no_user_without_a_password()
    {
        using var anonymous = new HttpClient { BaseAddress = LocalServers.ClickHouseClient().BaseAddress };
        using (var response = await anonymous.PostAsync("", new StringContent("SELECT 1")))
            Assert.False(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());

        using var wrong = new HttpClient { BaseAddress = anonymous.BaseAddress };
        wrong.DefaultRequestHeaders.Authorization = new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("cdp:wrong-password")));
        using (var response = await wrong.PostAsync("", new StringContent("SELECT 1")))
            Assert.Contains("Wrong password", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var signedIn = LocalServers.ClickHouseClient();
        using var ok = await signedIn.PostAsync("", new StringContent("SELECT 1"));
        Assert.Equal("1", (await ok.Content.ReadAsStringAsync()).Trim());
    }

    /// <summary>One command on a fresh connection in Redis's own protocol; the first line of the answer.</summary>
    static async Task<string> RedisSay(ConfigurationOptions options, params string[] command)
    {
        var endpoint = options.EndPoints[0];
        var (host, port) = endpoint switch
        {
            IPEndPoint ip => (ip.Address.ToString(), ip.Port),
            DnsEndPoint dns => (dns.Host, dns.Port),
            _ => throw new InvalidOperationException(endpoint.ToString()),
        };
        using var client = new TcpClient();
        await client.ConnectAsync(host, port);
        await using var stream = client.GetStream();
        var request = new StringBuilder($"*{command.Length}\r\n");
        foreach (var part in command) request.Append($"${Encoding.UTF8.GetByteCount(part)}\r\n{part}\r\n");
        await stream.WriteAsync(Encoding.UTF8.GetBytes(request.ToString()));
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return (await reader.ReadLineAsync())!;
    }
}
