namespace Cdp.Shared.Storage;

/// <summary>Npgsql reads timestamptz as a DateTime in UTC; the API speaks DateTimeOffset.</summary>
public static class DbTime
{
    public static DateTimeOffset Utc(DateTime at) => new(DateTime.SpecifyKind(at, DateTimeKind.Utc));

    public static DateTimeOffset? Utc(DateTime? at) => at is { } t ? Utc(t) : null;
}
