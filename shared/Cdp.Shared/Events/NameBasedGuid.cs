using System.Security.Cryptography;
using System.Text;

namespace Cdp.Shared.Events;

/// <summary>RFC 9562 version 5 (SHA-1, name-based) UUIDs: the same name always gives the same id.</summary>
public static class NameBasedGuid
{
    /// <summary>The namespace of SDK event ids (touchpoints made from events).</summary>
    public static readonly Guid EventNamespace = new("4c3d0a52-8f1e-5b6a-9d2c-7e0f1a2b3c4d");

    public static Guid Create(Guid namespaceId, string name)
    {
        var ns = namespaceId.ToByteArray(bigEndian: true);
        var nameBytes = Encoding.UTF8.GetBytes(name);
        var input = new byte[ns.Length + nameBytes.Length];
        ns.CopyTo(input, 0);
        nameBytes.CopyTo(input, ns.Length);
        var hash = SHA1.HashData(input);
        var bytes = hash.AsSpan(0, 16).ToArray();
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x50);
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
        return new Guid(bytes, bigEndian: true);
    }
}
