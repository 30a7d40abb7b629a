using Cdp.Shared.Cleansing;
using Cdp.Shared.Identity;
using Cdp.Shared.Ingestion;
using Cdp.Shared.Storage;
using Cdp.Tests.Support;
using Dapper;
using Microsoft.Extensions.Options;

namespace Cdp.Tests.Identity;

/// <summary>The resolver and review queue on a test class's database, with helpers to feed and inspect them.</summary>
/// <param name="retry">False: a unique violation fails the resolution instead of being retried, so races must be
/// prevented by the advisory locks alone.</param>
public sealed class IdentityTestBed(PostgresDatabase db, bool retry = true)
{
    public static readonly DateTimeOffset T0 = new(2025, 3, 1, 8, 0, 0, TimeSpan.FromHours(8));

    public IdentityResolver Resolver { get; } =
        new(db.DataSource, Options.Create(new IdentityOptions())) { MaxAttempts = retry ? 3 : 1 };

    public IdentityReviews Reviews => new(Db.DataSource, Resolver, TestRedis.ViewCache());

    public PostgresDatabase Db { get; } = db;

    /// <summary>A city no other test uses, so the fuzzy rule only ever sees this test's accounts.</summary>
    public static string City() => "测试" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>A company name no other test uses, ending in a legal form.</summary>
    public static string Word() => TestData.CompanyWord(6);

    public static CustomerRecord Contact(string? mobile = null, string? email = null) => new()
    {
        Channel = "crm", SourceId = TestData.Id("c"), Kind = EntityKind.Contact, ModifiedAt = T0,
        Name = "张伟", Mobile = mobile, Email = email,
    };

    public static CustomerRecord Lead(string? mobile = null, string? email = null) => new()
    {
        Channel = "wechat", SourceId = TestData.Id("l"), Kind = EntityKind.Lead, ModifiedAt = T0,
        Name = "李娜", Mobile = mobile, Email = email,
    };

    public static CustomerRecord Account(string? company, string? city, string? creditCode = null) => new()
    {
        Channel = "erp", SourceId = TestData.Id("a"), Kind = EntityKind.Account, ModifiedAt = T0,
        Company = company, City = city, CreditCode = creditCode,
    };

    public static CleanRecord Clean(CustomerRecord record)
    {
        var result = RecordCleanser.Cleanse(record);
        Assert.False(result.IsRejected, string.Join("; ", result.Errors.Select(e => e.Message)));
        return result.Clean!;
    }

    /// <summary>Writes the ingestion receipt ingest would have written, as "queued".</summary>
    public async Task<Guid> Receipt(CustomerRecord record)
    {
        var id = Guid.CreateVersion7();
        await using var conn = await Db.DataSource.OpenConnectionAsync();
        await conn.ExecuteAsync("""
            insert into ingestion_receipt (ingestion_id, channel, source_id, body_hash, payload)
            values (@id, @Channel, @SourceId, @hash, '{}')
            """, new { id, record.Channel, record.SourceId, hash = id.ToString("N") });
        return id;
    }

    public async Task<(Guid IngestionId, ResolutionOutcome Outcome)> Resolve(CustomerRecord record, ReviewDecision? decision = null)
    {
        var ingestionId = await Receipt(record);
        return (ingestionId, await Resolver.ResolveAsync(ingestionId, Clean(record), decision, CancellationToken.None));
    }

    public async Task<ResolutionOutcome> ResolveProcessed(CustomerRecord record)
    {
        var (_, outcome) = await Resolve(record);
        Assert.Equal(ResolutionOutcome.Processed, outcome.Status);
        Assert.NotNull(outcome.EntityId);
        return outcome;
    }

    /// <summary>An account inserted directly, e.g. a duplicate a person once chose to create in review.</summary>
    public async Task<Guid> InsertAccount(string name, string? city, string? creditCode = null)
    {
        var id = Guid.CreateVersion7();
        var (full, shortName) = CompanyName.Normalize(name);
        await using var conn = await Db.DataSource.OpenConnectionAsync();
        await conn.ExecuteAsync("""
            insert into account (account_id, account_name, name_normalized, name_short, unified_social_credit_code, city, shard_id)
            values (@id, @name, @full, @shortName, @creditCode, @city, @shard)
            """, new { id, name, full, shortName, creditCode, city, shard = Shard.Of(id) });
        return id;
    }

    public async Task<T> Scalar<T>(string sql, object? param = null)
    {
        await using var conn = await Db.DataSource.OpenConnectionAsync();
        return await conn.ExecuteScalarAsync<T>(sql, param) ?? throw new InvalidOperationException($"No result: {sql}");
    }

    public async Task<T?> Row<T>(string sql, object? param = null)
    {
        await using var conn = await Db.DataSource.OpenConnectionAsync();
        return await conn.QuerySingleOrDefaultAsync<T>(sql, param);
    }

    public async Task<List<T>> Rows<T>(string sql, object? param = null)
    {
        await using var conn = await Db.DataSource.OpenConnectionAsync();
        return [.. await conn.QueryAsync<T>(sql, param)];
    }

    public Task<(string Status, string? EntityType, Guid? EntityId, Guid? ReviewId)> ReceiptState(Guid ingestionId) =>
        Row<(string, string?, Guid?, Guid?)>(
            "select status, entity_type, entity_id, review_id from ingestion_receipt where ingestion_id = @ingestionId",
            new { ingestionId });
}
