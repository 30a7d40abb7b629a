using System.Text;
using Cdp.Tests.Support;
using Dapper;

namespace Cdp.Tests.Ingestion;

/// <summary>
/// Real host processes sharing one database: records racing across two hosts, a host SIGKILLed mid-batch and a
/// host stopped with SIGTERM. What was accepted is never lost and never applied twice.
/// </summary>
public sealed class MultiHostTests(CdpBackend backend) : IClassFixture<CdpBackend>
{
    /// <summary>
    /// The backend's settings with room for the stand-in's cued delays: an attempt may take a while on a busy machine
    /// (two hosts and the suite share two cores), and a timeout here would dead-letter records these tests expect processed.
    /// </summary>
    Dictionary<string, string?> Slow(string attemptTimeout = "00:00:05") =>
        new(backend.Settings) { ["WeCom:Http:AttemptTimeout"] = attemptTimeout, ["Topics:Default:MaxAttempts"] = "8" };

    [Fact]
    public async Task The_same_person_arriving_on_two_hosts_at_once_ends_as_one_contact()
    {
        await using var a = await HostProcess.StartAsync(backend.Settings);
        await using var b = await HostProcess.StartAsync(backend.Settings);
        var people = Enumerable.Range(0, 20).Select(_ => (Mobile: TestData.Mobile(), Email: TestData.Email())).ToList();

        // One record carries mobile + email, the other only the email: different topic keys, so only the
        // resolver's locks keep them from creating two contacts.
        var posts = people.SelectMany(p => new[]
        {
            CdpApp.IngestAsync(a.Client, "crm", Payloads.Crm("contact", new { LastName = "欧阳", FirstName = "锋", MobilePhone = p.Mobile, Email = p.Email })),
            CdpApp.IngestAsync(b.Client, "erp", Payloads.Crm("contact", new { Name = "欧阳锋", Email = p.Email.ToUpperInvariant() })),
        });
        var ids = (await Task.WhenAll(posts)).Select(r => r.Id).ToList();
        var statuses = await Task.WhenAll(ids.Select(id => CdpApp.SettledAsync(a.Client, id, TimeSpan.FromSeconds(60))));

        Assert.All(statuses, s => Assert.Equal("processed", s.Status));
        await using var conn = await backend.Database.DataSource.OpenConnectionAsync();
        foreach (var (person, pair) in people.Zip(statuses.Chunk(2)))
        {
            var contacts = (await conn.QueryAsync<Guid>("select contact_id from contact where email = @email", new { email = person.Email })).ToList();
            var contact = Assert.Single(contacts);
            Assert.All(pair, s => Assert.Equal(contact, s.EntityId));
        }
    }

    [Fact]
    public async Task A_host_killed_mid_batch_loses_nothing_and_another_host_finishes_the_work()
    {
        var users = Enumerable.Range(0, 30).Select(_ => TestData.Id("wm")).ToList();
        foreach (var user in users) backend.WeCom.AddContact(user, "令狐冲", null, "sales10");
        // Slow WeCom answers keep the first host busy inside its batch when it dies.
        backend.WeCom.ClearCues();
        backend.WeCom.DelayNext(TimeSpan.FromMilliseconds(700), 1_000, WeComStandIn.GetContactPath);

        var doomed = await HostProcess.StartAsync(Slow());
        var ids = new List<Guid>();
        foreach (var user in users) ids.Add(await PostWeComAsync(doomed.Client, user, "sales10"));
        await Eventually.Until(() => Task.FromResult(backend.WeCom.Calls(WeComStandIn.GetContactPath) > 0), TimeSpan.FromSeconds(10));
        doomed.Kill();
        await doomed.DisposeAsync();
        await using (var check = await backend.Database.DataSource.OpenConnectionAsync())
            Assert.True(await check.QuerySingleAsync<int>("select count(*)::int from ingestion_receipt where status = 'queued' and ingestion_id = any(@ids)", new { ids }) > 0,
                "the host should have died with work in hand");

        await using var survivor = await HostProcess.StartAsync(Slow());
        var statuses = await Task.WhenAll(ids.Select(id => CdpApp.SettledAsync(survivor.Client, id, TimeSpan.FromSeconds(90))));

        Assert.All(statuses, s => Assert.Equal("processed", s.Status));
        await using var conn = await backend.Database.DataSource.OpenConnectionAsync();
        var perUser = await conn.QueryAsync<(string User, int Contacts)>(
            "select wecom_external_user_id, count(*)::int from contact where wecom_external_user_id = any(@users) group by 1", new { users });
        Assert.Equal(users.Order(), perUser.Select(p => p.User).Order());
        Assert.All(perUser, p => Assert.Equal(1, p.Contacts));
        Assert.Equal(0, await conn.QuerySingleAsync<int>(
            "select count(*)::int from topic_message where payload->>'ingestionId' = any(@ids)", new { ids = ids.Select(i => i.ToString()).ToArray() }));
    }

    [Fact]
    public async Task A_host_stopped_with_sigterm_releases_its_claims_so_another_host_takes_them_at_once()
    {
        var users = Enumerable.Range(0, 20).Select(_ => TestData.Id("wm")).ToList();
        foreach (var user in users) backend.WeCom.AddContact(user, "任盈盈", null, "sales11");
        backend.WeCom.ClearCues();
        backend.WeCom.DelayNext(TimeSpan.FromMilliseconds(300), 1_000, WeComStandIn.GetContactPath);

        var stopping = await HostProcess.StartAsync(Slow());
        var ids = new List<Guid>();
        foreach (var user in users) ids.Add(await PostWeComAsync(stopping.Client, user, "sales11"));
        await Eventually.Until(() => Task.FromResult(backend.WeCom.Calls(WeComStandIn.GetContactPath) > 0), TimeSpan.FromSeconds(10));
        var pid = stopping.Pid;
        await stopping.StopAsync();
        await stopping.DisposeAsync();

        // Consumer ids are machine:pid:instance; hosts other tests SIGKILLed may still hold leases of their own.
        await using var conn = await backend.Database.DataSource.OpenConnectionAsync();
        Assert.Equal(0, await conn.QuerySingleAsync<int>(
            "select count(*)::int from topic_message where lease_owner like @owner", new { owner = $"%:{pid}:%" }));
        await using var next = await HostProcess.StartAsync(Slow());
        var statuses = await Task.WhenAll(ids.Select(id => CdpApp.SettledAsync(next.Client, id, TimeSpan.FromSeconds(60))));
        Assert.All(statuses, s => Assert.Equal("processed", s.Status));
    }

    async Task<Guid> PostWeComAsync(HttpClient client, string externalUserId, string follower)
    {
        var callback = WeComCallbacks.Build(backend.WeComCrypto, WeComStandIn.DefaultCorpId,
            WeComCallbacks.ChangeExternalContactXml(WeComStandIn.DefaultCorpId, "add_external_contact", follower, externalUserId));
        using var response = await client.PostAsync($"/api/ingest/wecom?{callback.Query}", new StringContent(callback.Body, Encoding.UTF8, "text/xml"));
        response.EnsureSuccessStatusCode();
        return Guid.Parse(response.Headers.GetValues("X-Cdp-Ingestion-Id").Single());
    }
}
