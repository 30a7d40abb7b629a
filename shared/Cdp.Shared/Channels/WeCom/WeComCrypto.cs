using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Cdp.Shared.Channels.WeCom;

/// <summary>
/// WeCom callback signing and AES-256-CBC message encryption. Plaintext layout:
/// 16 random bytes + 4-byte big-endian message length + message (UTF-8) + receive id (the CorpID),
/// PKCS#7-padded to a multiple of 32 bytes; the IV is the first 16 bytes of the key.
/// </summary>
public sealed class WeComCrypto
{
    private const int RandomLength = 16;
    private const int LengthFieldLength = 4;
    private const int PadBlock = 32;

    private readonly string _token;
    private readonly byte[] _key;
    private readonly byte[] _iv;
    private readonly byte[] _receiveId;

    public WeComCrypto(string token, string encodingAesKey, string receiveId)
    {
        ArgumentException.ThrowIfNullOrEmpty(token);
        ArgumentException.ThrowIfNullOrEmpty(receiveId);
        _token = token;
        _key = DecodeKey(encodingAesKey);
        _iv = _key[..16];
        _receiveId = Encoding.UTF8.GetBytes(receiveId);
    }

    /// <summary>True when <paramref name="encodingAesKey"/> is 43 base64 characters that decode to 32 bytes.</summary>
    public static bool IsValidKey(string? encodingAesKey)
    {
        if (encodingAesKey is not { Length: 43 })
        {
            return false;
        }

        Span<byte> buffer = stackalloc byte[33];
        return Convert.TryFromBase64String(encodingAesKey + "=", buffer, out var written) && written == 32;
    }

    /// <summary>Lowercase hex SHA1 of token, timestamp, nonce and the encrypted text, sorted ordinally and joined.</summary>
    public string Sign(string timestamp, string nonce, string encrypted)
    {
        string[] parts = [_token, timestamp ?? "", nonce ?? "", encrypted ?? ""];
        Array.Sort(parts, StringComparer.Ordinal);
        return Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(string.Concat(parts))));
    }

    public bool VerifySignature(string msgSignature, string timestamp, string nonce, string encrypted)
    {
        if (string.IsNullOrEmpty(msgSignature))
        {
            return false;
        }

        var expected = Encoding.ASCII.GetBytes(Sign(timestamp, nonce, encrypted));
        var actual = Encoding.UTF8.GetBytes(msgSignature.ToLowerInvariant());
        return CryptographicOperations.FixedTimeEquals(expected, actual);
    }

    /// <summary>
    /// Answers WeCom's URL verification: checks the signature over <paramref name="echostr"/> (already URL-decoded)
    /// and returns its plaintext, which the endpoint writes back as text/plain.
    /// </summary>
    public string VerifyUrl(string msgSignature, string timestamp, string nonce, string echostr)
    {
        if (!VerifySignature(msgSignature, timestamp, nonce, echostr))
        {
            throw new WeComCryptoException(WeComCryptoError.BadSignature, "msg_signature does not match.");
        }

        return Decrypt(echostr);
    }

    /// <summary>Decrypts and checks the receive id; any defect becomes a <see cref="WeComCryptoException"/>.</summary>
    public string Decrypt(string base64Encrypted)
    {
        if (string.IsNullOrEmpty(base64Encrypted))
        {
            throw BadFormat("The encrypted text is empty.");
        }

        var cipher = new byte[base64Encrypted.Length * 3 / 4];
        if (!Convert.TryFromBase64String(base64Encrypted, cipher, out var cipherLength))
        {
            throw BadFormat("The encrypted text is not base64.");
        }

        if (cipherLength == 0 || cipherLength % 16 != 0)
        {
            throw BadFormat("The encrypted text is not a whole number of AES blocks.");
        }

        byte[] plain;
        try
        {
            using var aes = Aes.Create();
            aes.Key = _key;
            plain = aes.DecryptCbc(cipher.AsSpan(0, cipherLength), _iv, PaddingMode.None);
        }
        catch (CryptographicException ex)
        {
            throw new WeComCryptoException(WeComCryptoError.BadFormat, "The encrypted text does not decrypt.", ex);
        }

        var pad = plain[^1];
        if (pad is < 1 or > PadBlock || pad > plain.Length)
        {
            throw BadFormat("The padding is invalid.");
        }

        for (var i = plain.Length - pad; i < plain.Length; i++)
        {
            if (plain[i] != pad)
            {
                throw BadFormat("The padding is invalid.");
            }
        }

        var content = plain.AsSpan(0, plain.Length - pad);
        if (content.Length < RandomLength + LengthFieldLength)
        {
            throw BadFormat("The plaintext is too short.");
        }

        var messageLength = BinaryPrimitives.ReadInt32BigEndian(content.Slice(RandomLength, LengthFieldLength));
        var rest = content[(RandomLength + LengthFieldLength)..];
        if (messageLength < 0 || messageLength > rest.Length)
        {
            throw BadFormat("The message length field is out of range.");
        }

        if (!rest[messageLength..].SequenceEqual(_receiveId))
        {
            throw new WeComCryptoException(WeComCryptoError.ReceiveIdMismatch, "The receive id does not match the CorpID.");
        }

        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(rest[..messageLength]);
        }
        catch (DecoderFallbackException ex)
        {
            throw new WeComCryptoException(WeComCryptoError.BadFormat, "The message is not UTF-8.", ex);
        }
    }

    public string Encrypt(string plaintext)
    {
        Span<byte> random = stackalloc byte[RandomLength];
        RandomNumberGenerator.Fill(random);
        return Encrypt(plaintext, random);
    }

    /// <summary>Encrypts with a caller-chosen random prefix so tests can check the exact byte layout.</summary>
    internal string Encrypt(string plaintext, ReadOnlySpan<byte> random16)
    {
        ArgumentNullException.ThrowIfNull(plaintext);
        if (random16.Length != RandomLength)
        {
            throw new ArgumentException("The random prefix must be 16 bytes.", nameof(random16));
        }

        return Convert.ToBase64String(EncryptBytes(BuildPlaintext(plaintext, random16)));
    }

    /// <summary>random + length (big-endian) + message + receive id, before padding.</summary>
    internal byte[] BuildPlaintext(string plaintext, ReadOnlySpan<byte> random16)
    {
        var message = Encoding.UTF8.GetBytes(plaintext);
        var buffer = new byte[RandomLength + LengthFieldLength + message.Length + _receiveId.Length];
        random16.CopyTo(buffer);
        BinaryPrimitives.WriteInt32BigEndian(buffer.AsSpan(RandomLength), message.Length);
        message.CopyTo(buffer, RandomLength + LengthFieldLength);
        _receiveId.CopyTo(buffer, RandomLength + LengthFieldLength + message.Length);
        return buffer;
    }

    internal byte[] DecryptRaw(byte[] cipher)
    {
        using var aes = Aes.Create();
        aes.Key = _key;
        return aes.DecryptCbc(cipher, _iv, PaddingMode.None);
    }

    private byte[] EncryptBytes(byte[] unpadded)
    {
        var pad = PadBlock - unpadded.Length % PadBlock;
        var padded = new byte[unpadded.Length + pad];
        unpadded.CopyTo(padded, 0);
        padded.AsSpan(unpadded.Length).Fill((byte)pad);
        using var aes = Aes.Create();
        aes.Key = _key;
        return aes.EncryptCbc(padded, _iv, PaddingMode.None);
    }

    private static byte[] DecodeKey(string encodingAesKey)
    {
        if (!IsValidKey(encodingAesKey))
        {
            throw new ArgumentException("EncodingAESKey must be 43 base64 characters (32 bytes).", nameof(encodingAesKey));
        }

        return Convert.FromBase64String(encodingAesKey + "=");
    }

    private static WeComCryptoException BadFormat(string message) => new(WeComCryptoError.BadFormat, message);
}
