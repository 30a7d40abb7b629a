using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Cdp.Shared.Channels.WeCom;

namespace Cdp.Tests.Channels.WeCom;

public class WeComCryptoTests
{
    private const string Token = "QDG6eK";
    private const string CorpId = "wx5823bf96d3bd56c7";
    private const string Key = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";

    private static readonly WeComCrypto Crypto = new(Token, Key, CorpId);

    // The public sample in WeCom's callback documentation (developer.work.weixin.qq.com/document/path/90968).
    [Fact]
    public void Verifies_and_decrypts_the_official_url_verification_sample()
    {
        var plaintext = Crypto.VerifyUrl(
            "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "1409659589", "263014780",
            "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==");

        Assert.Equal("1616140317555161061", plaintext);
    }

    [Fact]
    public void Verifies_and_decrypts_the_official_message_sample()
    {
        const string encrypted =
            "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==";

        Assert.Equal("477715d11cdb4164915debcba66cb864d751f3e6", Crypto.Sign("1409659813", "1372623149", encrypted));
        Assert.True(Crypto.VerifySignature("477715d11cdb4164915debcba66cb864d751f3e6", "1409659813", "1372623149", encrypted));

        var xml = Crypto.Decrypt(encrypted);
        Assert.Contains("<Content><![CDATA[hello]]></Content>", xml, StringComparison.Ordinal);
        Assert.Contains("<MsgId>4561255354251345929</MsgId>", xml, StringComparison.Ordinal);

        var other = new WeComCrypto(Token, Key, "wwsomeothercorp");
        var ex = Assert.Throws<WeComCryptoException>(() => other.Decrypt(encrypted));
        Assert.Equal(WeComCryptoError.ReceiveIdMismatch, ex.Error);
    }

    [Theory]
    [InlineData("")]
    [InlineData("a")]
    [InlineData("<xml><Event>change_external_contact</Event></xml>")]
    [InlineData("企业微信外部联系人变更：张三 🙂")]
    public void Round_trips(string message) => Assert.Equal(message, Crypto.Decrypt(Crypto.Encrypt(message)));

    [Fact]
    public void Encrypting_twice_gives_different_ciphertexts() =>
        Assert.NotEqual(Crypto.Encrypt("same"), Crypto.Encrypt("same"));

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(11)] // 16 + 4 + 11 + 18 = 49
    [InlineData(12)] // = 50 ... pads 14
    [InlineData(26)] // 16 + 4 + 26 + 18 = 64: a whole extra block of 32 pad bytes
    [InlineData(27)]
    [InlineData(100)]
    [InlineData(1000)]
    public void Pads_to_a_multiple_of_32_bytes(int messageLength)
    {
        var message = new string('x', messageLength);
        var cipher = Convert.FromBase64String(Crypto.Encrypt(message));

        Assert.Equal(0, cipher.Length % 32);
        var plain = RawDecrypt(cipher);
        var unpadded = 16 + 4 + messageLength + Encoding.UTF8.GetByteCount(CorpId);
        var pad = 32 - unpadded % 32;
        Assert.Equal(unpadded + pad, plain.Length);
        Assert.All(plain[unpadded..], b => Assert.Equal(pad, b));
    }

    [Fact]
    public void Known_answer_layout_is_random_then_big_endian_length_then_message_then_corp_id()
    {
        var random = Enumerable.Range(0xA0, 16).Select(i => (byte)i).ToArray();
        const string message = "<xml>你好</xml>"; // 5 + 6 + 6 = 17 UTF-8 bytes
        var cipher = Convert.FromBase64String(Crypto.Encrypt(message, random));

        byte[] expected =
        [
            .. random,
            0x00, 0x00, 0x00, 0x11,
            .. Encoding.UTF8.GetBytes(message),
            .. Encoding.UTF8.GetBytes(CorpId),
        ];
        var pad = 32 - expected.Length % 32; // 16 + 4 + 17 + 18 = 55 -> 9
        Assert.Equal(9, pad);
        Assert.Equal([.. expected, .. Enumerable.Repeat((byte)pad, pad)], RawDecrypt(cipher));
    }

    [Fact]
    public void Decrypts_a_ciphertext_built_by_hand()
    {
        var random = new byte[16];
        const string message = "hand-made";
        var body = Encoding.UTF8.GetBytes(message);
        var plain = new List<byte>(random);
        var length = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, body.Length);
        plain.AddRange(length);
        plain.AddRange(body);
        plain.AddRange(Encoding.UTF8.GetBytes(CorpId));
        var pad = 32 - plain.Count % 32;
        plain.AddRange(Enumerable.Repeat((byte)pad, pad));

        Assert.Equal(message, Crypto.Decrypt(Convert.ToBase64String(RawEncrypt([.. plain]))));
    }

    [Fact]
    public void Signature_is_sha1_of_the_sorted_parts()
    {
        var expected = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(
            string.Concat(new[] { Token, "1700000000", "nonce", "ENC" }.Order(StringComparer.Ordinal)))));

        Assert.Equal(expected, Crypto.Sign("1700000000", "nonce", "ENC"));
        Assert.True(Crypto.VerifySignature(expected, "1700000000", "nonce", "ENC"));
        Assert.True(Crypto.VerifySignature(expected.ToUpperInvariant(), "1700000000", "nonce", "ENC"));
    }

    [Fact]
    public void Rejects_wrong_signature_and_tampered_inputs()
    {
        var encrypted = Crypto.Encrypt("payload");
        var signature = Crypto.Sign("1700000000", "n1", encrypted);
        var tampered = (encrypted[0] == 'A' ? 'B' : 'A') + encrypted[1..];

        Assert.True(Crypto.VerifySignature(signature, "1700000000", "n1", encrypted));
        Assert.False(Crypto.VerifySignature(signature, "1700000000", "n1", tampered));
        Assert.False(Crypto.VerifySignature(signature, "1700000001", "n1", encrypted));
        Assert.False(Crypto.VerifySignature(signature, "1700000000", "n2", encrypted));
        Assert.False(Crypto.VerifySignature(new string('0', 40), "1700000000", "n1", encrypted));
        Assert.False(Crypto.VerifySignature("", "1700000000", "n1", encrypted));
        Assert.False(new WeComCrypto("other-token", Key, CorpId).VerifySignature(signature, "1700000000", "n1", encrypted));
    }

    [Fact]
    public void Url_verification_returns_the_echostr_plaintext_and_refuses_a_bad_signature()
    {
        var echostr = Crypto.Encrypt("8764123598746512");
        var signature = Crypto.Sign("1700000000", "abc", echostr);

        Assert.Equal("8764123598746512", Crypto.VerifyUrl(signature, "1700000000", "abc", echostr));
        var ex = Assert.Throws<WeComCryptoException>(() => Crypto.VerifyUrl(signature, "1700000000", "abd", echostr));
        Assert.Equal(WeComCryptoError.BadSignature, ex.Error);
    }

    [Fact]
    public void Rejects_a_message_for_another_corp()
    {
        var encrypted = new WeComCrypto(Token, Key, "wwanothercorp").Encrypt("for someone else");

        var ex = Assert.Throws<WeComCryptoException>(() => Crypto.Decrypt(encrypted));
        Assert.Equal(WeComCryptoError.ReceiveIdMismatch, ex.Error);
    }

    [Fact]
    public void Rejects_a_message_whose_corp_id_is_a_prefix_of_ours()
    {
        var encrypted = new WeComCrypto(Token, Key, CorpId[..^1]).Encrypt("truncated receive id");

        Assert.Throws<WeComCryptoException>(() => Crypto.Decrypt(encrypted));
    }

    [Theory]
    [InlineData("")]
    [InlineData("not base64 at all!")]
    [InlineData("AAAA")] // 3 bytes: not a whole AES block
    [InlineData("AAAAAAAAAAAAAAAAAAAAAA==")] // one block that decrypts to garbage padding
    public void Bad_ciphertext_is_a_crypto_exception(string encrypted)
    {
        var ex = Assert.Throws<WeComCryptoException>(() => Crypto.Decrypt(encrypted));
        Assert.Equal(WeComCryptoError.BadFormat, ex.Error);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(33)]
    public void Padding_values_outside_1_to_32_are_rejected(byte pad)
    {
        var plain = new byte[64];
        plain[^1] = pad;
        var ex = Assert.Throws<WeComCryptoException>(() => Crypto.Decrypt(Convert.ToBase64String(RawEncrypt(plain))));
        Assert.Equal(WeComCryptoError.BadFormat, ex.Error);
    }

    [Fact]
    public void Inconsistent_padding_bytes_are_rejected()
    {
        var plain = new byte[64];
        plain.AsSpan(60).Fill(4);
        plain[61] = 3;
        Assert.Throws<WeComCryptoException>(() => Crypto.Decrypt(Convert.ToBase64String(RawEncrypt(plain))));
    }

    [Fact]
    public void A_length_field_beyond_the_plaintext_is_rejected()
    {
        var plain = new byte[64];
        BinaryPrimitives.WriteInt32BigEndian(plain.AsSpan(16), 1000);
        plain.AsSpan(32).Fill(32);
        var ex = Assert.Throws<WeComCryptoException>(() => Crypto.Decrypt(Convert.ToBase64String(RawEncrypt(plain))));
        Assert.Equal(WeComCryptoError.BadFormat, ex.Error);
    }

    [Theory]
    [InlineData("tooshort")]
    [InlineData("jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C=")] // 44 characters
    [InlineData("jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2!")]
    public void Constructor_rejects_a_malformed_key(string key) =>
        Assert.Throws<ArgumentException>(() => new WeComCrypto(Token, key, CorpId));

    private static byte[] KeyBytes() => Convert.FromBase64String(Key + "=");

    private static byte[] RawDecrypt(byte[] cipher)
    {
        using var aes = Aes.Create();
        aes.Key = KeyBytes();
        return aes.DecryptCbc(cipher, KeyBytes()[..16], PaddingMode.None);
    }

    private static byte[] RawEncrypt(byte[] plain)
    {
        using var aes = Aes.Create();
        aes.Key = KeyBytes();
        return aes.EncryptCbc(plain, KeyBytes()[..16], PaddingMode.None);
    }
}
