using System.Text.Json;
using Cdp.Shared.Access;
using Cdp.Shared.Channels.WeCom;
using Cdp.Shared.Cleansing;
using Cdp.Shared.Messaging;
using Cdp.Shared.Telemetry;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Cdp.Shared.Ingestion;

/// <summary>The message the identity-resolution topic carries.</summary>
public sealed record IdentityResolutionRequested(Guid IngestionId, CleanRecord Record);

/// <summary>
/// data-ingestion consumer: reads a stored payload as the platform's record (fetching WeCom details first),
/// cleanses it, and either rejects it with reasons or hands it to identity resolution, in one transaction.
/// Redelivery is harmless: a receipt already past this stage is skipped.
/// </summary>
public sealed class ProcessIngestion(NpgsqlDataSource db, WeComApiClient weCom, ILogger<ProcessIngestion> logger) : ITopicKeyedBatchHandler
{
    public string Topic => Topics.DataIngestion;

    public async Task HandleAsync(TopicMessage message, CancellationToken ct)
    {
        var queued = message.Read<IngestionQueued>();
        var receipt = await LoadAsync(queued.IngestionId, ct);
        if (receipt is null || receipt.Value.Status != "queued" || receipt.Value.Cleansed) return;
        var (channel, payload, _, _) = receipt.Value;
        await SendAsync([await CleanseAsync(queued.IngestionId, channel, payload, ct)], ct);
    }

    /// <summary>
    /// A claimed round: the receipts read in one round trip, each record cleansed, and the rejections, the publishes
    /// and the cleansed marks sent in one more (one implicit transaction; the publishes and the marks one statement
    /// each). WeCom records fetch details first, each on its own. If the shared write fails, each message is handled
    /// alone so only a bad one is retried.
    /// </summary>
    public async Task<IReadOnlyList<Exception?>> HandleBatchAsync(IReadOnlyList<TopicMessage> batch, CancellationToken ct)
    {
        var errors = new Exception?[batch.Count];
        var queued = new IngestionQueued?[batch.Count];
        for (var i = 0; i < batch.Count; i++)
        {
            try { queued[i] = batch[i].Read<IngestionQueued>(); }
            catch (Exception e) { errors[i] = e; }
        }

        var receipts = new Dictionary<Guid, (string Channel, string Payload, string Status, bool Cleansed)>();
        await using (var cmd = db.CreateCommand(
            "select ingestion_id, channel, payload, status, cleansed_at is not null from ingestion_receipt where ingestion_id = any($1)"))
        {
            cmd.Parameters.AddWithValue(queued.OfType<IngestionQueued>().Select(q => q.IngestionId).ToArray());
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
                receipts[reader.GetGuid(0)] = (reader.GetString(1), reader.IsDBNull(2) ? "" : reader.GetString(2), reader.GetString(3), reader.GetBoolean(4));
        }

        var cleansed = new List<Cleansed>();
        for (var i = 0; i < batch.Count; i++)
        {
            if (queued[i] is not { } message) continue;
            try
            {
                if (!receipts.TryGetValue(message.IngestionId, out var receipt) || receipt.Status != "queued" || receipt.Cleansed) continue;
                if (receipt.Channel == ChannelNames.WeCom) await HandleAsync(batch[i], ct);
                else cleansed.Add(await CleanseAsync(message.IngestionId, receipt.Channel, receipt.Payload, ct));
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                errors[i] = e;
            }
        }

        try
        {
            await SendAsync(cleansed, ct);
        }
        catch (Exception) when (!ct.IsCancellationRequested)
        {
            for (var i = 0; i < batch.Count; i++)
            {
                if (errors[i] is not null) continue;
                try { await HandleAsync(batch[i], ct); }
                catch (Exception e) when (!ct.IsCancellationRequested) { errors[i] = e; }
            }
        }

        return errors;
    }

    /// <summary>What cleansing made of a record: its rejection, or the clean record identity resolution takes next.</summary>
    sealed record Cleansed(Guid IngestionId, NpgsqlBatchCommand? Rejection, CleanRecord? Clean);

    async Task<Cleansed> CleanseAsync(Guid ingestionId, string channel, string payload, CancellationToken ct)
    {
        CustomerRecord? record;
        try
        {
            record = channel == ChannelNames.WeCom ? await FromWeComAsync(payload, ct) : ChannelPayloads.ToRecord(channel, payload);
        }
        catch (Exception e) when (e is JsonException or WeComCallbackException or KeyNotFoundException or InvalidOperationException)
        {
            return new(ingestionId, Reject(ingestionId, channel, [new FieldError("body", $"Unreadable {channel} payload: {e.Message}")]), null);
        }
        if (record is null)
        {
            return new(ingestionId, Reject(ingestionId, channel, [new FieldError("externalUserId", "WeCom no longer knows this external contact.")]), null);
        }

        var result = RecordCleanser.Cleanse(record);
        if (result.Clean is null)
        {
            logger.LogInformation("Rejected {IngestionId}: {Fields}", ingestionId, string.Join(",", result.Errors.Select(e => e.Field)));
            return new(ingestionId, Reject(ingestionId, channel, result.Errors), null);
        }

        CdpTelemetry.Accepted.Add(1, new KeyValuePair<string, object?>("channel", channel));
        return new(ingestionId, null, result.Clean);
    }

    /// <summary>
    /// One round trip: the rejections, then the accepted records' publishes to identity resolution (one statement, in
    /// order) and their cleansed marks (one statement). A batch outside an explicit transaction runs as one implicit
    /// transaction, so the messages and the marks still commit together (or none does).
    /// </summary>
    async Task SendAsync(IReadOnlyList<Cleansed> records, CancellationToken ct)
    {
        if (records.Count == 0) return;
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var batch = new NpgsqlBatch(conn);
        foreach (var rejection in records.Select(r => r.Rejection).OfType<NpgsqlBatchCommand>()) batch.BatchCommands.Add(rejection);
        var accepted = records.Where(r => r.Clean is not null).ToList();
        if (accepted.Count > 0)
        {
            batch.BatchCommands.Add(TopicPublisher.PublishManyCommand(Topics.IdentityResolution,
                accepted.Select(r => (NaturalKey(r.Clean!), new IdentityResolutionRequested(r.IngestionId, r.Clean!)))));
            batch.BatchCommands.Add(new("update ingestion_receipt set cleansed_at = now() where ingestion_id = any($1)")
            {
                Parameters = { new() { Value = accepted.Select(r => r.IngestionId).ToArray() } },
            });
        }
        await batch.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// Records that resolve against the same company share a key, so they are handled one after another instead
    /// of queueing on the resolver's account locks while holding a connection each; other records are keyed by
    /// the person. The resolver's advisory locks still cover records that share only some identifiers.
    /// </summary>
    public static string NaturalKey(CleanRecord clean)
    {
        var r = clean.Record;
        var company = r.Kind == EntityKind.Lead ? null : r.CreditCode ?? clean.CompanyFullName;
        if (company is not null) return $"account:{company}";
        var person = r.Mobile ?? r.Email ?? r.WeComExternalUserId ?? r.UnionId ?? r.OpenId;
        return $"{r.Kind.ToString().ToLowerInvariant()}:{person ?? r.Channel + ":" + r.SourceId}";
    }

    async Task<CustomerRecord?> FromWeComAsync(string xml, CancellationToken ct)
    {
        var evt = WeComCallbackMessage.ParseEvent(xml);
        if (RemovedFollower(evt) is { } removed)
        {
            // Before the fetch: WeCom answers "not external contact" once nobody follows, and the record is then rejected.
            await using var unfollow = db.CreateBatch();
            unfollow.BatchCommands.Add(CustomerOwners.Unfollow(evt.ExternalUserId!, removed));
            await unfollow.ExecuteNonQueryAsync(ct);
        }
        var contact = await weCom.GetExternalContactAsync(evt.ExternalUserId!, ct);
        if (contact is null) return null;
        var follower = contact.FollowUsers.FirstOrDefault(f => f.UserId == evt.UserId) ?? contact.FollowUsers.FirstOrDefault();
        return new CustomerRecord
        {
            Channel = ChannelNames.WeCom,
            SourceId = contact.ExternalUserId,
            Kind = EntityKind.Contact,
            ModifiedAt = evt.CreatedAt,
            Name = contact.Name,
            Company = contact.CorpFullName ?? follower?.RemarkCorpName ?? contact.CorpName,
            Title = contact.Position,
            Mobile = follower?.RemarkMobiles?.FirstOrDefault(),
            WeComExternalUserId = contact.ExternalUserId,
            UnionId = contact.UnionId,
            Followers = FollowersOf(contact, evt),
        };
    }

    /// <summary>The staff member a <c>del_follow_user</c> / <c>del_external_contact</c> event says no longer follows the contact.</summary>
    internal static string? RemovedFollower(WeComEvent evt) =>
        evt.ChangeType is WeComChangeTypes.DelFollowUser or WeComChangeTypes.DelExternalContact && !string.IsNullOrEmpty(evt.UserId) ? evt.UserId : null;

    /// <summary>Who follows the contact now; a removal the API does not reflect yet still counts.</summary>
    internal static IReadOnlyList<Follower> FollowersOf(WeComExternalContact contact, WeComEvent evt) =>
        [.. contact.FollowUsers.Where(f => f.UserId.Length > 0 && f.UserId != RemovedFollower(evt)).Select(f => new Follower(f.UserId, f.CreatedAt))];

    async Task<(string Channel, string Payload, string Status, bool Cleansed)?> LoadAsync(Guid id, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            "select channel, payload, status, cleansed_at is not null from ingestion_receipt where ingestion_id = $1");
        cmd.Parameters.AddWithValue(id);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct)) return null;
        return (reader.GetString(0), reader.IsDBNull(1) ? "" : reader.GetString(1), reader.GetString(2), reader.GetBoolean(3));
    }

    static NpgsqlBatchCommand Reject(Guid id, string channel, IReadOnlyList<FieldError> errors)
    {
        CdpTelemetry.Rejected.Add(1, new KeyValuePair<string, object?>("channel", channel));
        return IngestionReceipts.SettleCommand(id, "rejected", errors);
    }

    public Task OnDeadLetteredAsync(TopicMessage message, string error, CancellationToken ct)
    {
        var queued = message.Read<IngestionQueued>();
        CdpTelemetry.Failed.Add(1, new KeyValuePair<string, object?>("channel", queued.Channel), new KeyValuePair<string, object?>("stage", "ingestion"));
        return IngestionReceipts.FailAsync(db, queued.IngestionId, "ingestion", error, ct);
    }
}
