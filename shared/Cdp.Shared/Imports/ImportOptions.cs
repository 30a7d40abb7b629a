namespace Cdp.Shared.Imports;

/// <summary>Bound from "Imports" (README, "Bulk import").</summary>
public sealed class ImportOptions
{
    public const string Section = "Imports";

    /// <summary>
    /// The cap on one import body (streamed, never held whole), above the hosts' usual request cap. Azure Functions caps
    /// request bodies itself (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT, 100 MB by default): raise that too, or import locally.
    /// </summary>
    public long MaxBodyBytes { get; set; } = 4L * 1024 * 1024 * 1024;

    /// <summary>The longest record (a line, or a CSV record) in characters; a longer one is rejected, not the import.</summary>
    public int MaxRecordChars { get; set; } = 64 * 1024;

    /// <summary>Records per chunk: one bulk-import message, one receipts statement, one resolution batch.</summary>
    public int ChunkRows { get; set; } = 1000;

    /// <summary>
    /// Chunks of one import handled side by side. 1 keeps the file's order across chunks (as one sender would push it);
    /// more overlaps chunks, the resolver's locks still keeping every person and company consistent. Within a lane a
    /// chunk's preparation (read, cleanse, receipts) and resolution are two messages on two keys, so chunk n+1 is
    /// prepared while chunk n resolves. Measured with 2 lanes: the resolutions wait on each other's advisory locks
    /// (the bench's people recur across chunks); no deadlock.
    /// </summary>
    public int Lanes { get; set; } = 1;

    public void Validate()
    {
        if (MaxBodyBytes < 1024 || MaxRecordChars < 256 || ChunkRows is < 1 or > 50_000 || Lanes is < 1 or > 64)
            throw new InvalidOperationException("Imports: MaxBodyBytes >= 1024, MaxRecordChars >= 256, ChunkRows 1..50000, Lanes 1..64.");
    }
}
