namespace Cdp.Shared.Api;

/// <summary>Reads a request body into memory, refusing (413) as soon as it passes the limit rather than after.</summary>
public static class LimitedBody
{
    public static async Task<byte[]> ReadAsync(Stream body, long? declaredLength, int limit, CancellationToken ct)
    {
        if (declaredLength > limit) throw new ApiProblemException(ApiProblem.TooLarge(limit));
        using var buffer = new MemoryStream(declaredLength is > 0 ? (int)declaredLength.Value : 4096);
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > limit) throw new ApiProblemException(ApiProblem.TooLarge(limit));
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }
}
