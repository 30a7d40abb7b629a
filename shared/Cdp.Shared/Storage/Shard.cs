using System.Buffers.Binary;

namespace Cdp.Shared.Storage;

/// <summary>Seed 003 shards by hash of the natural key into 16 parts; we keep the column so Citus can use it later.</summary>
public static class Shard
{
    public const int Count = 16;

    public static short Of(Guid id)
    {
        Span<byte> bytes = stackalloc byte[16];
        id.TryWriteBytes(bytes);
        return (short)(BinaryPrimitives.ReadUInt32LittleEndian(bytes) % Count);
    }
}
