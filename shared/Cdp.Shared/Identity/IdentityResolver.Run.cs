using System.Collections.Concurrent;
using System.Reflection;
using Cdp.Shared.Cleansing;
using Cdp.Shared.Ingestion;
using Cdp.Shared.Messaging;
using Cdp.Shared.Summaries;
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

        /// <summary>Queues a ready command that returns no rows (e.g. an owner's row).</summary>
        public void Enqueue(NpgsqlBatchCommand command) => pending.Commands.Add(command);

        /// <summary>
        /// The id of an entity or review the record creates. In a batch it is one the batch set aside for the record's
        /// position, so ids (which break ties in the match rules' order) rise in input order whichever wave decides it.
        /// </summary>
        private Guid NewId() => known?.NextId() ?? Guid.CreateVersion7();

        /// <summary>Queues one row of a kind of write; the queued rows of a kind go out as one statement.</summary>
        public void Write(RowWrite kind, params object?[] values) => pending.Add(kind, values);

        /// <summary>Queues one row of a kind of write, its values named as the kind names its columns.</summary>
        public void Write(RowWrite kind, IReadOnlyDictionary<string, object?> values) => pending.Add(kind, kind.Row(values));

        /// <summary>Queues a summary recalculation; a flush publishes the queued ones in one statement, in order.</summary>
        public void Publish(SummaryRecalculation message) => pending.Summaries.Add(message);

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
                : PropertiesOf(param).Select(p => (p.Name, p.GetValue(param), Type: (Type?)p.PropertyType));
            foreach (var (name, value, type) in values)
            {
                command.Parameters.Add(value is null ? Null(name, type) : new NpgsqlParameter(name, value));
            }

            return command;
        }

        /// <summary>
        /// The public properties of a parameter object's type, held for good. The runtime holds its reflection cache
        /// weakly: each time a collection dropped it, the next GetValue emitted and compiled a new invoke stub per
        /// property (perf map mid-import: hundreds of them, the tiered JIT busy for the whole run).
        /// </summary>
        internal static PropertyInfo[] PropertiesOf(object param) => Properties.GetOrAdd(param.GetType(), type => type.GetProperties());

        private static readonly ConcurrentDictionary<Type, PropertyInfo[]> Properties = new();

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

    /// <summary>The order in which a flush sends the kinds of rows: a row before the rows that refer to it.</summary>
    private enum WriteRank
    {
        AccountInsert, AccountUpdate, AccountIdentity, LeadInsert, LeadUpdate, LeadIdentity,
        ContactInsert, ContactUpdate, ContactLink, ContactIdentity, Relation, Review, ReceiptReview, ReceiptProcessed,
    }

    /// <summary>
    /// A kind of write of the rules: one statement over <c>unnest</c> of one array per column (each named
    /// <c>@column</c> in <paramref name="Sql"/>), so one record's row and a whole wave's rows are written by the same SQL.
    /// Rows of one flush never hit one table row twice: the records of a wave share no key and no entity, and a
    /// record that merges into an entity changed earlier reads it first (which flushes).
    /// </summary>
    private sealed class RowWrite(WriteRank rank, string sql, params (string Name, NpgsqlDbType Type)[] columns)
    {
        public WriteRank Rank => rank;

        public object?[] Row(IReadOnlyDictionary<string, object?> values) => [.. columns.Select(c => values[c.Name])];

        public NpgsqlBatchCommand Command(List<object?[]> rows)
        {
            var command = new NpgsqlBatchCommand(sql);
            for (var c = 0; c < columns.Length; c++)
            {
                var (name, type) = columns[c];
                var at = c;
                command.Parameters.Add(new NpgsqlParameter(name, NpgsqlDbType.Array | type)
                {
                    Value = type switch
                    {
                        NpgsqlDbType.Uuid => rows.Select(r => (Guid?)r[at]).ToArray(),
                        NpgsqlDbType.Boolean => rows.Select(r => (bool?)r[at]).ToArray(),
                        NpgsqlDbType.Smallint => rows.Select(r => (short?)r[at]).ToArray(),
                        NpgsqlDbType.TimestampTz => rows.Select(r => (DateTime?)r[at]).ToArray(),
                        NpgsqlDbType.Text => rows.Select(r => (string?)r[at]).ToArray(),
                        _ => throw new ArgumentOutOfRangeException(nameof(columns), type, "No array of this type."),
                    },
                });
            }

            return command;
        }
    }

    /// <summary>
    /// Statements whose answer nobody needs yet, sent in one round trip with the next read or at the end. A batch
    /// shares one between its records, so every record's writes ride along with the next read; rows of one kind
    /// (<see cref="RowWrite"/>) travel as one statement.
    /// </summary>
    private sealed class Pending
    {
        readonly SortedDictionary<WriteRank, (RowWrite Kind, List<object?[]> Rows)> rows = [];

        public List<NpgsqlBatchCommand> Commands { get; } = [];

        /// <summary>Summary recalculations to publish, in the order they were asked for.</summary>
        public List<SummaryRecalculation> Summaries { get; } = [];

        /// <summary>Queued selects run for their effect: the reader skips their result sets.</summary>
        public int ResultSets { get; set; }

        /// <summary>Queued rows and statements sent, and round trips that carried them or a read (counted for the batch path).</summary>
        public int RowsSent { get; private set; }

        public int StatementsSent { get; private set; }

        public int RoundTrips { get; set; }

        public void Add(RowWrite kind, object?[] values)
        {
            if (!rows.TryGetValue(kind.Rank, out var queued))
            {
                rows[kind.Rank] = queued = (kind, []);
            }

            queued.Rows.Add(values);
        }

        /// <summary>
        /// The queued commands in the order they were queued (locks and settings first: they return the result sets
        /// a reader skips), then one statement per kind of row, then the summary messages.
        /// </summary>
        public NpgsqlBatch Take(NpgsqlConnection conn, NpgsqlTransaction tx)
        {
            var batch = new NpgsqlBatch(conn, tx);
            foreach (var command in Commands)
            {
                batch.BatchCommands.Add(command);
            }

            foreach (var (kind, queued) in rows.Values)
            {
                batch.BatchCommands.Add(kind.Command(queued));
                RowsSent += queued.Count;
            }

            if (Summaries.Count > 0)
            {
                batch.BatchCommands.Add(TopicPublisher.PublishManyCommand(Topics.SummaryCalculation, Summaries.Select(m => (m.Key, m))));
                RowsSent += Summaries.Count;
            }

            StatementsSent += batch.BatchCommands.Count;
            RoundTrips++;
            Commands.Clear();
            rows.Clear();
            Summaries.Clear();
            ResultSets = 0;
            return batch;
        }

        public async Task FlushAsync(NpgsqlConnection conn, NpgsqlTransaction tx, CancellationToken ct)
        {
            if (Commands.Count > 0 || rows.Count > 0 || Summaries.Count > 0)
            {
                await using var batch = Take(conn, tx);
                await batch.ExecuteNonQueryAsync(ct);
            }
        }
    }
}
