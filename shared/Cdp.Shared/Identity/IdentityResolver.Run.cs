using Cdp.Shared.Cleansing;
using Cdp.Shared.Ingestion;
using Dapper;
using Npgsql;
using NpgsqlTypes;

namespace Cdp.Shared.Identity;

public sealed partial class IdentityResolver
{
    /// <summary>
    /// One resolution: the transaction, the record, its advisory locks and the statements queued for it. The SQL of
    /// each rule is in the other parts of this class: IdentityResolver.LeadRules.cs, .ContactRules.cs and
    /// .AccountRules.cs, and .EntityRows.cs (a rule's fields merged into a row or inserted).
    /// </summary>
    /// <param name="shared">Statements still to send, shared by the records of one batch so their writes travel together.</param>
    /// <param name="known">What a batch read up front for this record (matches, rows, holders); null reads everything live.</param>
    private sealed partial class Run(
        NpgsqlConnection conn, NpgsqlTransaction tx, Guid ingestionId, CleanRecord clean, double threshold, CancellationToken ct,
        Pending? shared = null, Known? known = null)
    {
        private readonly CustomerRecord r = clean.Record;
        private readonly DateTime at = clean.Record.ModifiedAt.UtcDateTime;
        private readonly DateTimeOffset atOffset = clean.Record.ModifiedAt.ToUniversalTime();

        /// <summary>Advisory locks in hash order, so two transactions wanting overlapping keys cannot deadlock.</summary>
        public void Lock(IReadOnlyList<string> keys) => Perform(LockSql, new { keys = keys.ToArray() });

        internal const string LockSql = """
            select pg_advisory_xact_lock(k)
            from (select distinct hashtextextended(key, 0) as k from unnest(@keys) as key order by 1) as sorted
            """;

        // ---- statements -----------------------------------------------------------------------------------
        // Statements whose answer the rules do not need (writes, locks, settings) are queued and sent in one round
        // trip with the next read, or with the receipt update at the end. Postgres still runs every statement in
        // the order it was issued, and an error still aborts the transaction before anything commits.

        private readonly Pending pending = shared ?? new Pending();

        /// <summary>Queues a statement that returns no rows.</summary>
        public void Execute(string sql, object param) => pending.Commands.Add(Command(sql, param));

        /// <summary>Queues a ready command that returns no rows (e.g. a topic publish).</summary>
        public void Enqueue(NpgsqlBatchCommand command) => pending.Commands.Add(command);

        /// <summary>Queues a select run for its effect (a lock, a setting); its rows are skipped.</summary>
        private void Perform(string sql, object param)
        {
            pending.Commands.Add(Command(sql, param));
            pending.ResultSets++;
        }

        /// <summary>Sends what is still queued.</summary>
        public Task Flush() => pending.FlushAsync(conn, tx, ct);

        /// <summary>Runs the queued statements and then <paramref name="sql"/>, and reads the latter's rows.</summary>
        private async Task<T> Read<T>(string sql, object param, Func<NpgsqlDataReader, Task<T>> read)
        {
            var skip = pending.ResultSets;
            await using var batch = pending.Take(conn, tx);
            batch.BatchCommands.Add(Command(sql, param));
            await using var reader = await batch.ExecuteReaderAsync(ct);
            for (var i = 0; i < skip; i++)
            {
                await reader.NextResultAsync(ct);
            }

            return await read(reader);
        }

        public Task<List<T>> Query<T>(string sql, object param) => Read(sql, param, async reader =>
        {
            var parse = reader.GetRowParser<T>();
            var rows = new List<T>();
            while (await reader.ReadAsync(ct))
            {
                rows.Add(parse(reader));
            }

            return rows;
        });

        public async Task<T?> SingleOrDefault<T>(string sql, object param) =>
            await Query<T>(sql, param) switch
            {
                [] => default,
                [var row] => row,
                _ => throw new InvalidOperationException("Sequence contains more than one element"),
            };

        private async Task<T> Single<T>(string sql, object param) =>
            (await Query<T>(sql, param)) is [var row] ? row : throw new InvalidOperationException($"Expected one row: {sql}");

        private async Task<Guid?> FirstId(string sql, object param) => (await Query<Guid?>(sql, param)).FirstOrDefault();

        /// <summary>A command whose named parameters are the properties of <paramref name="param"/> (or its entries).</summary>
        internal static NpgsqlBatchCommand Command(string sql, object param)
        {
            var command = new NpgsqlBatchCommand(sql);
            var values = param is IReadOnlyDictionary<string, object?> entries
                ? entries.Select(e => (e.Key, e.Value, Type: (Type?)null))
                : param.GetType().GetProperties().Select(p => (p.Name, p.GetValue(param), Type: (Type?)p.PropertyType));
            foreach (var (name, value, type) in values)
            {
                command.Parameters.Add(value is null ? Null(name, type) : new NpgsqlParameter(name, value));
            }

            return command;
        }

        // Typed like Dapper types them; a null of unknown type is left to the server to infer from its use.
        private static NpgsqlParameter Null(string name, Type? type)
        {
            var parameter = new NpgsqlParameter { ParameterName = name, Value = DBNull.Value };
            switch (Nullable.GetUnderlyingType(type ?? typeof(object)) ?? type)
            {
                case var t when t == typeof(string):
                    parameter.NpgsqlDbType = NpgsqlDbType.Text;
                    break;
                case var t when t == typeof(Guid):
                    parameter.NpgsqlDbType = NpgsqlDbType.Uuid;
                    break;
                case var t when t == typeof(bool):
                    parameter.NpgsqlDbType = NpgsqlDbType.Boolean;
                    break;
            }

            return parameter;
        }
    }

    /// <summary>
    /// Statements whose answer nobody needs yet, sent in one round trip with the next read or at the end. A batch
    /// shares one between its records, so every record's writes ride along with the next record's first read.
    /// </summary>
    private sealed class Pending
    {
        public List<NpgsqlBatchCommand> Commands { get; } = [];

        /// <summary>Queued selects run for their effect: the reader skips their result sets.</summary>
        public int ResultSets { get; set; }

        public NpgsqlBatch Take(NpgsqlConnection conn, NpgsqlTransaction tx)
        {
            var batch = new NpgsqlBatch(conn, tx);
            foreach (var command in Commands)
            {
                batch.BatchCommands.Add(command);
            }

            Commands.Clear();
            ResultSets = 0;
            return batch;
        }

        public async Task FlushAsync(NpgsqlConnection conn, NpgsqlTransaction tx, CancellationToken ct)
        {
            if (Commands.Count > 0)
            {
                await using var batch = Take(conn, tx);
                await batch.ExecuteNonQueryAsync(ct);
            }
        }
    }
}
