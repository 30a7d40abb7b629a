using System.Security.Cryptography;
using System.Text;
using Cdp.Shared.Api;
using Cdp.Shared.Channels.WeCom;
using Cdp.Shared.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cdp.Shared.Ingestion;

/// <summary>What a host hands over of an HTTP request to /api/ingest/{channel}; the body is already size-capped.</summary>
public sealed record ChannelRequest(
    string Channel, string Method, string? ContentType,
    Func<string, string?> Query, Func<string, string?> Header, ReadOnlyMemory<byte> Body);

public abstract record ChannelResponse;
/// <summary>202 {"ingestionId","duplicate"}.</summary>
public sealed record Accepted(Guid IngestionId, bool Duplicate) : ChannelResponse;
/// <summary>202 with a channel's own answer (call records: counts).</summary>
public sealed record AcceptedJson(object Body) : ChannelResponse;
/// <summary>200 text/plain, as WeCom expects ("success", or the decrypted echostr); ingestion id in a header.</summary>
public sealed record PlainText(string Text, Guid? IngestionId = null) : ChannelResponse;

/// <summary>
/// Accepting a channel push: authenticate it by the channel's own scheme, refuse what cannot be keyed, store it
/// durably (deduplicated) and answer. Everything else happens asynchronously in the pipeline.
/// </summary>
public sealed class ChannelWebhook(
    IngestionStore store,
    IOptionsMonitor<ChannelOptions> channels,
    IOptions<IngestionOptions> options,
    WeComCrypto weCom,
    Cdp.Shared.VirtualNumbers.CallRecords calls,
    TimeProvider clock,
    ILogger<ChannelWebhook> logger)
{
    /// <summary>
    /// The HTTP request as either host receives it: the method rule, the body read within Ingestion:MaxBodyBytes,
    /// then <see cref="HandleAsync"/>.
    /// </summary>
    public async Task<ChannelResponse> HandleHttpAsync(
        string channel, string method, string? contentType, Func<string, string?> query, Func<string, string?> header,
        Stream body, long? contentLength, CancellationToken ct)
    {
        HttpRules.EnsureIngestMethod(channel, method);
        var bytes = HttpRules.IsPost(method) ? await LimitedBody.ReadAsync(body, contentLength, options.Value.MaxBodyBytes, ct) : [];
        return await HandleAsync(new ChannelRequest(channel, method, contentType, query, header, bytes), ct);
    }

    public async Task<ChannelResponse> HandleAsync(ChannelRequest request, CancellationToken ct)
    {
        var descriptor = ChannelRegistry.Find(request.Channel)
            ?? throw new ApiProblemException(ApiProblem.NotFound($"Unknown channel '{Truncate(request.Channel)}'. Known: {ChannelRegistry.Known}."));
        return descriptor.Signature == SignatureScheme.WeComCallback ? await WeComAsync(request, ct) : await SignedJsonAsync(descriptor, request, ct);
    }

    async Task<ChannelResponse> SignedJsonAsync(ChannelDescriptor descriptor, ChannelRequest request, CancellationToken ct)
    {
        if (!IsMediaType(request.ContentType, "application/json"))
            throw new ApiProblemException(ApiProblem.UnsupportedMediaType("application/json"));
        var channel = channels.Get(request.Channel);
        if (string.IsNullOrEmpty(channel.SigningSecret))
            throw new ApiProblemException(ApiProblem.Unavailable($"Channel '{request.Channel}' has no signing secret configured."));

        var check = WebhookSignature.Verify(channel.AcceptedSecrets(), request.Header("X-Cdp-Timestamp"), request.Header("X-Cdp-Signature"),
            request.Body.Span, clock.GetUtcNow(), options.Value.TimestampTolerance);
        if (check != SignatureCheck.Valid)
        {
            logger.LogWarning("Refused a {Channel} push: signature {Check}", request.Channel, check);
            throw new ApiProblemException(ApiProblem.Unauthorized(check switch
            {
                SignatureCheck.Missing => "X-Cdp-Timestamp and X-Cdp-Signature are required.",
                SignatureCheck.Stale => "X-Cdp-Timestamp is outside the allowed window; sign again with the current time.",
                _ => "X-Cdp-Signature does not match HMAC-SHA256(secret, timestamp + \".\" + body).",
            }));
        }

        if (descriptor.Payload == PayloadKind.CallRecords)
        {
            var answer = await calls.AcceptAsync(Cdp.Shared.VirtualNumbers.CallRecords.Read(request.Body), ct);
            logger.LogInformation("Accepted {Channel} push: {Accepted} new, {Duplicates} duplicate, {Unmatched} without a contact",
                request.Channel, answer.Accepted, answer.Duplicates, answer.Unmatched);
            return new AcceptedJson(answer);
        }

        var envelope = ChannelPayloads.ReadEnvelope(request.Channel, request.Body, clock.GetUtcNow());
        var payload = DecodeUtf8(request.Body.Span);
        var (id, duplicate) = await store.AcceptAsync(request.Channel, envelope, Hash(request.Body.Span), payload, ct);
        if (!duplicate) CdpTelemetry.Ingested.Add(1, new KeyValuePair<string, object?>("channel", request.Channel));
        logger.LogInformation("Accepted {Channel} record as {IngestionId} (duplicate: {Duplicate})", request.Channel, id, duplicate);
        return new Accepted(id, duplicate);
    }

    async Task<ChannelResponse> WeComAsync(ChannelRequest request, CancellationToken ct)
    {
        var signature = request.Query("msg_signature");
        var timestamp = request.Query("timestamp");
        var nonce = request.Query("nonce");
        if (signature is null || timestamp is null || nonce is null)
            throw new ApiProblemException(ApiProblem.Unauthorized("msg_signature, timestamp and nonce are required."));

        try
        {
            if (request.Method == "GET")
            {
                var echostr = request.Query("echostr") ?? throw new ApiProblemException(ApiProblem.BadRequest("echostr is required."));
                return new PlainText(weCom.VerifyUrl(signature, timestamp, nonce, echostr));
            }

            if (request.ContentType is not null && !IsMediaType(request.ContentType, "text/xml") && !IsMediaType(request.ContentType, "application/xml"))
                throw new ApiProblemException(ApiProblem.UnsupportedMediaType("text/xml"));
            var encrypted = WeComCallbackMessage.ReadEncrypt(DecodeUtf8(request.Body.Span));
            if (!weCom.VerifySignature(signature, timestamp, nonce, encrypted))
                throw new WeComCryptoException(WeComCryptoError.BadSignature, "msg_signature does not match.");
            var xml = weCom.Decrypt(encrypted);
            var evt = WeComCallbackMessage.ParseEvent(xml);
            if (!evt.IsExternalContactChange || string.IsNullOrEmpty(evt.ExternalUserId))
            {
                // Only customer changes feed the CDP; other events are acknowledged so WeCom stops resending.
                logger.LogInformation("Acknowledged WeCom event {Event}/{ChangeType} without ingesting it", evt.Event, evt.ChangeType);
                return new PlainText("success");
            }
            var (id, duplicate) = await store.AcceptAsync(ChannelNames.WeCom,
                new SourceEnvelope(evt.ExternalUserId, evt.DeduplicationKey), Hash(Encoding.UTF8.GetBytes(xml)), xml, ct);
            if (!duplicate) CdpTelemetry.Ingested.Add(1, new KeyValuePair<string, object?>("channel", ChannelNames.WeCom));
            logger.LogInformation("Accepted WeCom {ChangeType} as {IngestionId} (duplicate: {Duplicate})", evt.ChangeType, id, duplicate);
            return new PlainText("success", id);
        }
        catch (WeComCryptoException e) when (e.Error == WeComCryptoError.BadSignature)
        {
            logger.LogWarning("Refused a WeCom callback: bad signature");
            throw new ApiProblemException(ApiProblem.Unauthorized("msg_signature does not match."));
        }
        catch (WeComCallbackException e)
        {
            throw new ApiProblemException(ApiProblem.BadRequest(e.Message));
        }
    }

    static bool IsMediaType(string? contentType, string expected) =>
        contentType is not null && contentType.Split(';')[0].Trim().Equals(expected, StringComparison.OrdinalIgnoreCase);

    static string DecodeUtf8(ReadOnlySpan<byte> body) => JsonText.DecodeUtf8(body);

    static string Hash(ReadOnlySpan<byte> body) => Convert.ToHexStringLower(SHA256.HashData(body));

    static string Truncate(string s) => s.Length <= 40 ? s : s[..40] + "…";
}
