using Cdp.Shared.Access;
using Cdp.Shared.Storage;
using Dapper;
using Npgsql;

namespace Cdp.Shared.VirtualNumbers;

public static class BindingModes
{
    public const string Axb = "AXB";
    public const string Xb = "XB";
}

/// <summary>Seed 002's states.</summary>
public static class BindingStates
{
    public const string NotBind = "NOT_BIND";
    public const string Operation = "OPERATION";
    public const string Bind = "BIND";
}

public sealed record Binding(
    Guid BindingId, string RequestId, string Mode, string State, int Version, string? City, string? PoolKey, string? Provider,
    string? PhoneA, string PhoneB, string? VirtualNumber, string? SubsId, Guid? ContactId, string? StaffUserId, int Attempts,
    string? FailureCode, string? LastError, DateTimeOffset ExpiresAt, DateTimeOffset? BoundAt, DateTimeOffset? UnboundAt, DateTimeOffset CreatedAt)
{
    /// <summary>The answer's shape: phones masked, except X, the number to dial.</summary>
    public BindingView ToView() => new(BindingId, Mode, State, VirtualNumber, ExpiresAt, PiiMask.Phone(PhoneA), PiiMask.Phone(PhoneB), City,
        ContactId, Attempts, FailureCode, PiiMask.Text(LastError), BoundAt, UnboundAt);
}

public sealed record BindingView(
    Guid BindingId, string Mode, string State, string? VirtualNumber, DateTimeOffset ExpiresAt, string? A, string? B, string? City,
    Guid? ContactId, int Attempts, string? FailureCode, string? LastError, DateTimeOffset? BoundAt, DateTimeOffset? UnboundAt);

/// <summary>A change that lost the race: the row's version moved since it was read.</summary>
public sealed class BindingConcurrencyException(Guid bindingId, int version)
    : Exception($"Binding {bindingId} changed since version {version}; read it again.");

/// <summary>
/// virtual_binding and the pool table. Each state change names the version it read and bumps it, so two runs of the
/// same step (a redelivered activity, a second host) cannot both apply.
/// </summary>
public sealed class BindingStore(NpgsqlDataSource db)
{
    const string Columns = """
        binding_id as BindingId, request_id as RequestId, mode, state, version, city, pool_key as PoolKey, provider, phone_a as PhoneA,
        phone_b as PhoneB, virtual_number as VirtualNumber, subs_id as SubsId, contact_id as ContactId, staff_user_id as StaffUserId,
        attempts, failure_code as FailureCode, last_error as LastError, expires_at as ExpiresAt, bound_at as BoundAt,
        unbound_at as UnboundAt, created_at as CreatedAt
        """;

    public sealed record NewBinding(Guid BindingId, string RequestId, string Mode, string? City, string? PhoneA, string PhoneB, Guid? ContactId,
        string? StaffUserId, DateTimeOffset ExpiresAt);

    /// <summary>
    /// Inserts the binding in OPERATION unless its request id exists, inside the caller's transaction; returns the row
    /// and whether it is new. Two clicks with one request id get one binding.
    /// </summary>
    public static async Task<(Binding Binding, bool Created)> CreateAsync(NpgsqlConnection conn, NpgsqlTransaction tx, NewBinding b)
    {
        var inserted = await conn.QuerySingleOrDefaultAsync<Row>($"""
            insert into virtual_binding (binding_id, request_id, mode, state, city, phone_a, phone_b, contact_id, staff_user_id, expires_at)
            values (@BindingId, @RequestId, @Mode, 'OPERATION', @City, @PhoneA, @PhoneB, @ContactId, @StaffUserId, @ExpiresAt)
            on conflict (request_id) do nothing
            returning {Columns}
            """, new { b.BindingId, b.RequestId, b.Mode, b.City, b.PhoneA, b.PhoneB, b.ContactId, b.StaffUserId, ExpiresAt = b.ExpiresAt.UtcDateTime }, tx);
        if (inserted is not null) return (inserted.ToBinding(), true);
        var existing = await conn.QuerySingleAsync<Row>($"select {Columns} from virtual_binding where request_id = @RequestId", new { b.RequestId }, tx);
        return (existing.ToBinding(), false);
    }

    public async Task<Binding?> GetAsync(Guid bindingId, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        return (await conn.QuerySingleOrDefaultAsync<Row>(new CommandDefinition(
            $"select {Columns} from virtual_binding where binding_id = @bindingId", new { bindingId }, cancellationToken: ct)))?.ToBinding();
    }

    /// <summary>
    /// Polls the binding while it is in <paramref name="state"/>, for at most <paramref name="timeout"/>: what a route
    /// answers after starting or signalling the orchestration (200 when the state moved on, 202 when not yet).
    /// </summary>
    public async Task<Binding> WaitWhileAsync(Binding binding, string state, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTimeOffset.UtcNow + timeout;
        while (binding.State == state && DateTimeOffset.UtcNow < deadline)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(50), ct);
            binding = await GetAsync(binding.BindingId, ct) ?? binding;
        }
        return binding;
    }

    /// <summary>Bindings of an X number, newest first (at most 50); a scoped viewer sees only their own.</summary>
    public async Task<IReadOnlyList<Binding>> OfNumberAsync(string virtualNumber, string? staffUserId, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        return (await conn.QueryAsync<Row>(new CommandDefinition($"""
            select {Columns} from virtual_binding where virtual_number = @virtualNumber and (@staffUserId::text is null or staff_user_id = @staffUserId)
            order by created_at desc limit 50
            """, new { virtualNumber, staffUserId }, cancellationToken: ct))).Select(r => r.ToBinding()).ToList();
    }

    /// <summary>The binding a call record names: by our OutId (the binding id) or the provider's SubsId.</summary>
    public async Task<Binding?> FindForCallAsync(Guid? outId, string? subsId, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        return (await conn.QueryFirstOrDefaultAsync<Row>(new CommandDefinition($"""
            select {Columns} from virtual_binding where binding_id = @outId or (@subsId::text is not null and subs_id = @subsId)
            order by (binding_id = @outId) desc limit 1
            """, new { outId = outId ?? Guid.Empty, subsId }, cancellationToken: ct)))?.ToBinding();
    }

    /// <summary>The pools to try, the city's own first, then the others by priority; the default pool when none is configured.</summary>
    public async Task<IReadOnlyList<(string? City, string PoolKey)>> PoolsAsync(string? city, string defaultPoolKey, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var rows = (await conn.QueryAsync<(string City, string PoolKey)>(new CommandDefinition("""
            select city, pool_key from virtual_number_pool order by (city = @city) desc, priority, city
            """, new { city }, cancellationToken: ct))).Select(r => ((string?)r.City, r.PoolKey)).ToList();
        if (rows.Count == 0 && !string.IsNullOrEmpty(defaultPoolKey)) rows.Add((null, defaultPoolKey));
        return rows;
    }

    public async Task SetPoolAsync(string city, string poolKey, int priority, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await conn.ExecuteAsync(new CommandDefinition("""
            insert into virtual_number_pool (city, pool_key, priority) values (@city, @poolKey, @priority)
            on conflict (city) do update set pool_key = excluded.pool_key, priority = excluded.priority
            """, new { city, poolKey, priority }, cancellationToken: ct));
    }

    /// <summary>OPERATION -> BIND with the provider's X and SubsId; the X joins the numbers that are never an identity.</summary>
    public Task MarkBoundAsync(Binding b, string provider, string? city, string poolKey, string virtualNumber, string subsId, CancellationToken ct) =>
        TransitionAsync(b, """
            state = 'BIND', provider = @provider, city = coalesce(@city, city), pool_key = @poolKey, virtual_number = @virtualNumber,
            subs_id = @subsId, attempts = attempts + 1, failure_code = null, bound_at = now()
            """, new { provider, city, poolKey, virtualNumber, subsId }, ct,
            "insert into virtual_number_seen (number) values (@virtualNumber) on conflict do nothing");

    /// <summary>A failed attempt that will be retried: stays OPERATION.</summary>
    public Task MarkAttemptFailedAsync(Binding b, string provider, string code, string? error, CancellationToken ct) =>
        TransitionAsync(b, "provider = @provider, attempts = attempts + 1, failure_code = @code, last_error = @error",
            new { provider, code, error = Limit(error) }, ct);

    /// <summary>-> NOT_BIND: given up (retries spent or refused), with the reason.</summary>
    public Task MarkNotBoundAsync(Binding b, string code, string? error, bool countsAsAttempt, CancellationToken ct) =>
        TransitionAsync(b, "state = 'NOT_BIND', failure_code = @code, last_error = @error, attempts = attempts + @add",
            new { code, error = Limit(error), add = countsAsAttempt ? 1 : 0 }, ct);

    /// <summary>BIND -> NOT_BIND at expiry or on request.</summary>
    public Task MarkUnboundAsync(Binding b, CancellationToken ct) =>
        TransitionAsync(b, "state = 'NOT_BIND', unbound_at = now()", null, ct);

    /// <summary>Claims the binding's one alert: true once per binding (a redelivered activity gets false).</summary>
    public async Task<bool> ClaimAlertAsync(Guid bindingId, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        return await conn.ExecuteAsync(new CommandDefinition(
            "update virtual_binding set alerted_at = now() where binding_id = @bindingId and alerted_at is null", new { bindingId }, cancellationToken: ct)) == 1;
    }

    /// <summary>Gives the claim back when the robot could not be reached, so the activity's retry posts again.</summary>
    public async Task ReleaseAlertAsync(Guid bindingId)
    {
        await using var conn = await db.OpenConnectionAsync();
        await conn.ExecuteAsync("update virtual_binding set alerted_at = null where binding_id = @bindingId", new { bindingId });
    }

    /// <summary>Whether <paramref name="number"/> ever arrived as an X number.</summary>
    public static Task<bool> IsVirtualNumberAsync(NpgsqlConnection conn, NpgsqlTransaction? tx, string number) =>
        conn.ExecuteScalarAsync<bool>("select exists (select 1 from virtual_number_seen where number = @number)", new { number }, tx);

    async Task TransitionAsync(Binding b, string set, object? values, CancellationToken ct, string? after = null)
    {
        var parameters = new DynamicParameters(values);
        parameters.Add("id", b.BindingId);
        parameters.Add("version", b.Version);
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var changed = await conn.ExecuteAsync(new CommandDefinition(
            $"update virtual_binding set {set}, version = version + 1, updated_at = now() where binding_id = @id and version = @version",
            parameters, tx, cancellationToken: ct));
        if (changed != 1) throw new BindingConcurrencyException(b.BindingId, b.Version);
        if (after is not null) await conn.ExecuteAsync(new CommandDefinition(after, parameters, tx, cancellationToken: ct));
        await tx.CommitAsync(ct);
    }

    static string? Limit(string? error) => error is { Length: > 500 } ? error[..500] : error;

    sealed class Row
    {
        public Guid BindingId { get; set; }
        public string RequestId { get; set; } = "";
        public string Mode { get; set; } = "";
        public string State { get; set; } = "";
        public int Version { get; set; }
        public string? City { get; set; }
        public string? PoolKey { get; set; }
        public string? Provider { get; set; }
        public string? PhoneA { get; set; }
        public string PhoneB { get; set; } = "";
        public string? VirtualNumber { get; set; }
        public string? SubsId { get; set; }
        public Guid? ContactId { get; set; }
        public string? StaffUserId { get; set; }
        public int Attempts { get; set; }
        public string? FailureCode { get; set; }
        public string? LastError { get; set; }
        public DateTime ExpiresAt { get; set; }
        public DateTime? BoundAt { get; set; }
        public DateTime? UnboundAt { get; set; }
        public DateTime CreatedAt { get; set; }

        public Binding ToBinding() => new(BindingId, RequestId, Mode, State, Version, City, PoolKey, Provider, PhoneA, PhoneB, VirtualNumber, SubsId,
            ContactId, StaffUserId, Attempts, FailureCode, LastError, DbTime.Utc(ExpiresAt), BoundAt is { } bound ? DbTime.Utc(bound) : null,
            UnboundAt is { } unbound ? DbTime.Utc(unbound) : null, DbTime.Utc(CreatedAt));
    }
}
