using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Cdp.Shared.VirtualNumbers;

/// <summary>
/// Alibaba Cloud's RPC request signature, version 1.0 (HMAC-SHA1), as the aliyun SDKs compute it: the parameters but
/// Signature sorted by name (ordinal), name and value percent-encoded (RFC 3986 over UTF-8), joined with '&amp;';
/// StringToSign = METHOD &amp; %2F &amp; percentEncode(that); Signature = Base64(HMAC-SHA1(AccessKeySecret + "&amp;", StringToSign)).
/// </summary>
public static class AlibabaRpcSigner
{
    public const string SignatureMethod = "HMAC-SHA1";
    public const string SignatureVersion = "1.0";
    public const string SignatureParameter = "Signature";

    /// <summary>RFC 3986: A-Z a-z 0-9 - _ . ~ kept, every other UTF-8 byte as %XX (so space %20, * %2A, ~ kept).</summary>
    public static string PercentEncode(string value)
    {
        var text = new StringBuilder(value.Length * 3);
        foreach (var b in Encoding.UTF8.GetBytes(value))
        {
            if (b is >= (byte)'A' and <= (byte)'Z' or >= (byte)'a' and <= (byte)'z' or >= (byte)'0' and <= (byte)'9' or (byte)'-' or (byte)'_' or (byte)'.' or (byte)'~')
                text.Append((char)b);
            else
                text.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
        }
        return text.ToString();
    }

    /// <summary>UTC, ISO 8601 to the second: yyyy-MM-ddTHH:mm:ssZ.</summary>
    public static string Timestamp(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    public static string StringToSign(string method, IEnumerable<KeyValuePair<string, string>> parameters)
    {
        var canonical = string.Join('&', parameters
            .Where(p => p.Key != SignatureParameter)
            .OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => PercentEncode(p.Key) + "=" + PercentEncode(p.Value)));
        return method.ToUpperInvariant() + "&" + PercentEncode("/") + "&" + PercentEncode(canonical);
    }

    public static string Sign(string method, IEnumerable<KeyValuePair<string, string>> parameters, string accessKeySecret)
    {
        var mac = HMACSHA1.HashData(Encoding.UTF8.GetBytes(accessKeySecret + "&"), Encoding.UTF8.GetBytes(StringToSign(method, parameters)));
        return Convert.ToBase64String(mac);
    }

    /// <summary>
    /// <paramref name="parameters"/> (nulls dropped) with the signature's common parameters (AccessKeyId, SignatureMethod,
    /// SignatureNonce, SignatureVersion, Timestamp) and Signature added. A new <paramref name="nonce"/> per request.
    /// </summary>
    public static Dictionary<string, string> Signed(string method, IEnumerable<KeyValuePair<string, string?>> parameters,
        string accessKeyId, string accessKeySecret, DateTimeOffset now, string nonce)
    {
        var signed = parameters.Where(p => p.Value is not null).ToDictionary(p => p.Key, p => p.Value!, StringComparer.Ordinal);
        signed["AccessKeyId"] = accessKeyId;
        signed["SignatureMethod"] = SignatureMethod;
        signed["SignatureVersion"] = SignatureVersion;
        signed["SignatureNonce"] = nonce;
        signed["Timestamp"] = Timestamp(now);
        signed[SignatureParameter] = Sign(method, signed, accessKeySecret);
        return signed;
    }
}
