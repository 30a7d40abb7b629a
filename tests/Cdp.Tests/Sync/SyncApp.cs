using System.Net;
using System.Net.Http.Json;
using Cdp.Shared;
using Cdp.Shared.Storage;
using Cdp.Shared.Sync;
using Cdp.Tests.Support;

namespace Cdp.Tests.Sync;

/// <summary>
/// The local host in-process on its own database with the WeCom stand-in, fast sync retries (100 ms doubling, capped
/// at 1 s) and the stand-in's group robot as alert webhook. WeCom HTTP calls are not retried inside one push, so one
/// push attempt is one mark_tag call.
/// </summary>
public class SyncApp : CdpApp
{
    /// <summary>The WeCom tag group the platform owns (Sync:TagGroupName's default).</summary>
    public const string TagGroup = "CDP";

    protected virtual TimeSpan FirstRetryInterval => TimeSpan.FromMilliseconds(100);

    protected virtual int AlertsPerMinute => 10;

    protected override IEnumerable<KeyValuePair<string, string?>> ExtraSettings => SyncSettings(WeCom, FirstRetryInterval, AlertsPerMinute);

    /// <summary>These sync settings for a host on <paramref name="wecom"/> (the Azure host's tests use them too).</summary>
    public static Dictionary<string, string?> SyncSettings(WeComStandIn wecom, TimeSpan firstRetryInterval, int alertsPerMinute = 10) => new()
    {
        ["Sync:FirstRetryInterval"] = firstRetryInterval.ToString(),
        ["Sync:MaxRetryInterval"] = (firstRetryInterval * 10).ToString(),
        ["Sync:AttemptTimeout"] = "00:00:05",
        ["Sync:AlertsPerMinute"] = alertsPerMinute.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["WeCom:AlertWebhookUrl"] = wecom.RobotUrl,
        ["WeCom:Http:MaxRetries"] = "0",
        ["Orchestrations:PollInterval"] = "00:00:00.050",
    };

    /// <summary>A sync task row as a use case would store it, for targets no API creates yet.</summary>
    public async Task<Guid> InsertTaskAsync(string target, Guid entityId, string status = SyncStatus.Pending, string? lastError = null)
    {
        var id = Guid.CreateVersion7();
        await using var cmd = Database.DataSource.CreateCommand("""
            insert into sync_task (sync_task_id, target, entity_type, entity_id, change_seq, payload, status, attempts, last_error)
            values ($1, $2, 'contact', $3, nextval('sync_task_change_seq'), '{"x":1}', $4, 0, $5)
            """);
        cmd.Parameters.Add(new() { Value = id });
        cmd.Parameters.Add(new() { Value = target });
        cmd.Parameters.Add(new() { Value = entityId });
        cmd.Parameters.Add(new() { Value = status });
        cmd.Parameters.Add(new() { Value = (object?)lastError ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        await cmd.ExecuteNonQueryAsync();
        return id;
    }

    public Task<Guid> PutTagsAsync(Guid contactId, params string[] tags) => PutTagsAsync(Client, contactId, tags);

    /// <summary>Saves the tags as the caller <paramref name="client"/> signs in as, expecting 202.</summary>
    public static async Task<Guid> PutTagsAsync(HttpClient client, Guid contactId, params string[] tags)
    {
        using var response = await client.PutAsJsonAsync($"/api/contacts/{contactId}/tags", new { tags });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<TagsSaved>(CdpJson.Options))!.SyncTaskId;
    }

    public async Task<SyncTaskView> TaskAsync(Guid id) =>
        (await Client.GetFromJsonAsync<SyncTaskView>($"/api/sync-tasks/{id}", CdpJson.Options))!;

    /// <summary>Polls the task until <paramref name="status"/>, returning every status seen on the way.</summary>
    public async Task<(SyncTaskView Task, IReadOnlyList<string> Seen)> UntilStatusAsync(Guid id, string status, TimeSpan? timeout = null)
    {
        var seen = new List<string>();
        SyncTaskView task = null!;
        await Eventually.Until(async () =>
        {
            task = await TaskAsync(id);
            if (seen.Count == 0 || seen[^1] != task.Status) seen.Add(task.Status);
            return task.Status == status;
        }, timeout ?? TimeSpan.FromSeconds(30), $"sync task {id} {status}");
        return (task, seen);
    }
}

/// <summary>At most two alerts a minute.</summary>
public sealed class AlertLimitSyncApp : SyncApp
{
    protected override int AlertsPerMinute => 2;
}

/// <summary>Retries 3 s apart, so a test can act while a task waits for its next attempt.</summary>
public sealed class SlowRetrySyncApp : SyncApp
{
    protected override TimeSpan FirstRetryInterval => TimeSpan.FromSeconds(3);
}
