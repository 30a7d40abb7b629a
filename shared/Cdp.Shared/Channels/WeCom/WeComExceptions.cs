namespace Cdp.Shared.Channels.WeCom;

/// <summary>Base of everything wrong with an incoming callback; an endpoint catches this and answers 4xx.</summary>
public abstract class WeComCallbackException : Exception
{
    protected WeComCallbackException(string message, Exception? inner = null) : base(message, inner) { }
}

public enum WeComCryptoError
{
    /// <summary>msg_signature does not match: answer 401, the sender does not know our token.</summary>
    BadSignature,

    /// <summary>Not base64, wrong block size, bad padding or a length field that lies: answer 400.</summary>
    BadFormat,

    /// <summary>Decrypted fine but for another corp (or a key collision): answer 400.</summary>
    ReceiveIdMismatch,
}

/// <summary>A callback that fails signature checking or decryption.</summary>
public sealed class WeComCryptoException(WeComCryptoError error, string message, Exception? inner = null)
    : WeComCallbackException(message, inner)
{
    public WeComCryptoError Error { get; } = error;
}

/// <summary>A callback whose XML is malformed, too large, or lacks a field every event has.</summary>
public sealed class WeComFormatException(string message, Exception? inner = null) : WeComCallbackException(message, inner);

/// <summary>
/// WeCom answered with a non-zero errcode. The message carries errcode and errmsg only, never tokens or secrets.
/// </summary>
public sealed class WeComApiException(string api, int errCode, string? errMsg)
    : Exception($"WeCom {api} failed: errcode {errCode}, {errMsg}")
{
    public string Api { get; } = api;
    public int ErrCode { get; } = errCode;
    public string? ErrMsg { get; } = errMsg;
}
