using System.Security.Cryptography;
using System.Text;
using Cdp.Shared.Storage;
using Dapper;
using Npgsql;

namespace Cdp.Shared.Access;

public sealed record ApiKeyInfo(
    string KeyId, string Name, string Kind, IReadOnlyList<string> Permissions, IReadOnlyList<string> AllowedOrigins, string CreatedBy,
    DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt, DateTimeOffset? RevokedAt, DateTimeOffset? LastUsedAt);

/// <summary>A key as created: the only time its secret is shown.</summary>
public sealed record CreatedApiKey(string Key, ApiKeyInfo Info);

/// <summary>
/// API keys for machines (CRM, ERP, BI) and publishable keys for the website's events SDK. A key is
/// "cdp_sk_&lt;id&gt;_&lt;secret&gt;" (or cdp_pk_ for publishable); only its SHA-256 is stored, so a database copy
/// reveals no key. Two live keys per client make rotation gapless: create the new one, switch, revoke the old.
/// </summary>
public sealed class ApiKeys(NpgsqlDataSource db, TimeProvider clock)
{
    const string Alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";

    public const string SecretKind = "secret", PublishableKind = "publishable";

    public static bool LooksLikeKey(string text) => text.StartsWith("cdp_sk_", StringComparison.Ordinal) || text.StartsWith("cdp_pk_", StringComparison.Ordinal);

    public async Task<CreatedApiKey> CreateAsync(
        NpgsqlConnection conn, NpgsqlTransaction tx, string name, string kind, IReadOnlyList<string> permissions, IReadOnlyList<string> allowedOrigins,
        DateTimeOffset? expiresAt, string createdBy)
    {
        var keyId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        var key = $"cdp_{(kind == PublishableKind ? "pk" : "sk")}_{keyId}_{RandomNumberGenerator.GetString(Alphabet, 40)}";
        var info = await conn.QuerySingleAsync<Row>("""
            insert into api_key (key_id, key_hash, name, kind, permissions, allowed_origins, created_by, expires_at)
            values (@keyId, @hash, @name, @kind, @permissions, @origins, @createdBy, @expiresAt)
            returning key_id as KeyId, name, kind, permissions, allowed_origins as AllowedOrigins, created_by as CreatedBy, created_at as CreatedAt, expires_at as ExpiresAt, revoked_at as RevokedAt, last_used_at as LastUsedAt
            """, new { keyId, hash = Hash(key), name, kind, permissions = permissions.ToArray(), origins = allowedOrigins.ToArray(), createdBy, expiresAt }, tx);
        return new CreatedApiKey(key, info.ToInfo());
    }

    public async Task<IReadOnlyList<ApiKeyInfo>> ListAsync(CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var rows = await conn.QueryAsync<Row>(new CommandDefinition("""
            select key_id as KeyId, name, kind, permissions, allowed_origins as AllowedOrigins, created_by as CreatedBy, created_at as CreatedAt, expires_at as ExpiresAt, revoked_at as RevokedAt, last_used_at as LastUsedAt
            from api_key order by created_at desc
            """, cancellationToken: ct));
        return rows.Select(r => r.ToInfo()).ToList();
    }

    /// <summary>False when no such live key exists.</summary>
    public async Task<bool> RevokeAsync(NpgsqlConnection conn, NpgsqlTransaction tx, string keyId) =>
        await conn.ExecuteAsync("update api_key set revoked_at = now() where key_id = @keyId and revoked_at is null", new { keyId }, tx) == 1;

    /// <summary>A key by id when it is neither revoked nor expired (a session made from it lives as long as the key).</summary>
    public async Task<ApiKeyInfo?> GetLiveAsync(string keyId, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var row = await conn.QuerySingleOrDefaultAsync<Row>(new CommandDefinition("""
            select key_id as KeyId, name, kind, permissions, allowed_origins as AllowedOrigins, created_by as CreatedBy, created_at as CreatedAt, expires_at as ExpiresAt, revoked_at as RevokedAt, last_used_at as LastUsedAt
            from api_key where key_id = @keyId and revoked_at is null and (expires_at is null or expires_at > now())
            """, new { keyId }, cancellationToken: ct));
        return row?.ToInfo();
    }

    /// <summary>The key's record when it is genuine, unrevoked and unexpired; null otherwise (the caller answers 401).</summary>
    public async Task<ApiKeyInfo?> VerifyAsync(string key, CancellationToken ct)
    {
        if (key.Length > 100 || key.Split('_') is not ["cdp", "sk" or "pk", var keyId, _]) return null;
        await using var conn = await db.OpenConnectionAsync(ct);
        var row = await conn.QuerySingleOrDefaultAsync<StoredRow>(new CommandDefinition("""
            select key_hash as KeyHash, key_id as KeyId, name, kind, permissions, allowed_origins as AllowedOrigins, created_by as CreatedBy, created_at as CreatedAt, expires_at as ExpiresAt, revoked_at as RevokedAt, last_used_at as LastUsedAt
            from api_key where key_id = @keyId
            """, new { keyId }, cancellationToken: ct));
        if (row is null || !CryptographicOperations.FixedTimeEquals(row.KeyHash, Hash(key))) return null;
        var now = clock.GetUtcNow();
        if (row.RevokedAt is not null || DbTime.Utc(row.ExpiresAt) <= now) return null;
        // Last use to the minute: enough to find idle keys, and no write per request.
        if (row.LastUsedAt is null || DbTime.Utc(row.LastUsedAt.Value) < now.AddMinutes(-1))
            await conn.ExecuteAsync(new CommandDefinition("update api_key set last_used_at = now() where key_id = @keyId", new { keyId }, cancellationToken: ct));
        return row.ToInfo();
    }

    static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    class Row
    {
        public string KeyId { get; set; } = "";
        public string Name { get; set; } = "";
        public string Kind { get; set; } = "";
        public string[] Permissions { get; set; } = [];
        public string[] AllowedOrigins { get; set; } = [];
        public string CreatedBy { get; set; } = "";
        public DateTime CreatedAt { get; set; }
        public DateTime? ExpiresAt { get; set; }
        public DateTime? RevokedAt { get; set; }
        public DateTime? LastUsedAt { get; set; }

        public ApiKeyInfo ToInfo() => new(KeyId, Name, Kind, Permissions, AllowedOrigins, CreatedBy,
            DbTime.Utc(CreatedAt), DbTime.Utc(ExpiresAt), DbTime.Utc(RevokedAt), DbTime.Utc(LastUsedAt));
    }

    sealed class StoredRow : Row
    {
        public byte[] KeyHash { get; set; } = [];
    }
}
