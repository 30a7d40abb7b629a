using Cdp.Shared.Ingestion;

namespace Cdp.Shared.Api;

/// <summary>The few HTTP-level rules both hosts apply before calling a use case, so neither host decides them.</summary>
public static class HttpRules
{
    /// <summary>WeCom wants "success" as the body, so the ingestion id of a WeCom callback travels in this header.</summary>
    public const string IngestionIdHeader = "X-Cdp-Ingestion-Id";

    /// <summary>Only WeCom verifies its callback URL with GET (echostr); every other channel only POSTs.</summary>
    public static void EnsureIngestMethod(string channel, string method)
    {
        if (string.Equals(method, "GET", StringComparison.OrdinalIgnoreCase) && channel != ChannelNames.WeCom)
            throw new ApiProblemException(new ApiProblem(405, "Method not allowed", "Only WeCom verifies its URL with GET."));
    }

    public static bool IsPost(string method) => string.Equals(method, "POST", StringComparison.OrdinalIgnoreCase);

    /// <summary>application/json or any +json media type, parameters ignored.</summary>
    public static bool IsJson(string? contentType) =>
        contentType is not null
        && contentType.Split(';')[0].Trim() is var media
        && (media.Equals("application/json", StringComparison.OrdinalIgnoreCase) || media.EndsWith("+json", StringComparison.OrdinalIgnoreCase));
}
