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
            returning key_id, name, kind, permissions, allowed_origins, created_by, created_at, expires_at, revoked_at, last_used_at
            """, new { keyId, hash = Hash(key), name, kind, permissions = permissions.ToArray(), origins = allowedOrigins.ToArray(), createdBy, expiresAt }, tx);
        return new CreatedApiKey(key, info.ToInfo());
    }

    public async Task<IReadOnlyList<ApiKeyInfo>> ListAsync(CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var rows = await conn.QueryAsync<Row>(new CommandDefinition("""
            select key_id, name, kind, permissions, allowed_origins, created_by, created_at, expires_at, revoked_at, last_used_at
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
            select key_id, name, kind, permissions, allowed_origins, created_by, created_at, expires_at, revoked_at, last_used_at
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
            select key_id, key_hash, name, kind, permissions, allowed_origins, created_by, created_at, expires_at, revoked_at, last_used_at
            from api_key where key_id = @keyId
            """, new { keyId }, cancellationToken: ct));
        if (row is null || !CryptographicOperations.FixedTimeEquals(row.key_hash, Hash(key))) return null;
        var now = clock.GetUtcNow();
        if (row.revoked_at is not null || DbTime.Utc(row.expires_at) <= now) return null;
        // Last use to the minute: enough to find idle keys, and no write per request.
        if (row.last_used_at is null || DbTime.Utc(row.last_used_at.Value) < now.AddMinutes(-1))
            await conn.ExecuteAsync(new CommandDefinition("update api_key set last_used_at = now() where key_id = @keyId", new { keyId }, cancellationToken: ct));
        return row.ToInfo();
    }

    static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    // Dapper maps by column name, into properties: its constructor matching sees a text[] column as System.Array, not string[].
#pragma warning disable IDE1006
    class Row
    {
        public string key_id { get; set; } = "";
        public string name { get; set; } = "";
        public string kind { get; set; } = "";
        public string[] permissions { get; set; } = [];
        public string[] allowed_origins { get; set; } = [];
        public string created_by { get; set; } = "";
        public DateTime created_at { get; set; }
        public DateTime? expires_at { get; set; }
        public DateTime? revoked_at { get; set; }
        public DateTime? last_used_at { get; set; }

        public ApiKeyInfo ToInfo() => new(key_id, name, kind, permissions, allowed_origins, created_by,
            DbTime.Utc(created_at), DbTime.Utc(expires_at), DbTime.Utc(revoked_at), DbTime.Utc(last_used_at));
    }

    sealed class StoredRow : Row
    {
        public byte[] key_hash { get; set; } = [];
    }
#pragma warning restore IDE1006
}
