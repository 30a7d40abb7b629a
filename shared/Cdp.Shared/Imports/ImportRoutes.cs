using Cdp.Shared.Access;
using Cdp.Shared.Api;
using Cdp.Shared.Ingestion;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Cdp.Shared.Imports;

/// <summary>Bulk first loads (API.md "imports"): a streamed NDJSON or CSV body of crm/erp records, and its progress.</summary>
public static class ImportRoutes
{
    public const string ImportsPath = "imports";
    public const string ImportPath = "imports/{importId:guid}";

    /// <summary>The channels whose records an import may hold: the crm/erp record envelopes.</summary>
    public static readonly IReadOnlyList<string> Channels = [ChannelNames.Crm, ChannelNames.Erp];

    /// <summary>
    /// POST /api/imports?channel=crm|erp with application/x-ndjson or text/csv: 202 {"importId","total"} once the whole
    /// body is staged and its chunks are queued. 400 bad UTF-8, no records or a CSV header without the envelope
    /// columns; 413 above Imports:MaxBodyBytes; 415 another media type; 422 an unknown channel. A bad record is
    /// rejected on its own, with reasons, in the status.
    /// </summary>
    public static readonly ApiRoute StartImport = ApiRoute.Post(nameof(StartImport), ImportsPath, Permissions.ImportsWrite, async call =>
    {
        var channel = call.Query("channel") is { Length: > 0 } c ? c : ChannelNames.Crm;
        if (!Channels.Contains(channel)) throw ApiProblemException.Invalid("channel", $"One of {string.Join(", ", Channels)}.");
        var format = ImportReader.FormatOf(call.Request.ContentType)
            ?? throw new ApiProblemException(ApiProblem.UnsupportedMediaType($"{ImportReader.NdjsonMediaType} or {ImportReader.CsvMediaType}"));
        var store = call.Service<ImportStore>();
        // This route alone may pass the host's usual request cap; the import's own cap is counted while streaming.
        if (call.Http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } cap) cap.MaxRequestBodySize = store.Options.MaxBodyBytes;
        if (call.Request.ContentLength > store.Options.MaxBodyBytes) throw new ApiProblemException(ApiProblem.TooLarge(store.Options.MaxBodyBytes));
        var (id, total) = await store.StageAsync(channel, format, call.Request.Body, call.Actor, call.Aborted);
        return ApiResults.At(StatusCodes.Status202Accepted, $"/api/imports/{id}", new { importId = id, total });
    });

    public static readonly ApiRoute GetImport = ApiRoute.Get(nameof(GetImport), ImportPath, Permissions.ImportsWrite, async call =>
    {
        var id = call.RouteId("importId");
        return ApiResults.Json(await call.Service<ImportStatusQuery>().GetAsync(id, call.Aborted)
            ?? throw new ApiProblemException(ApiProblem.NotFound($"No import {id}.")));
    });

    public static IEnumerable<ApiRoute> All => [StartImport, GetImport];
}
