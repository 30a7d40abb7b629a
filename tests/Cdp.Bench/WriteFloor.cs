using System.Diagnostics;
using Npgsql;

namespace Cdp.Bench;

/// <summary>
/// The data model's write floor, a same-run baseline: the rows the timed part of a bench inserted, updated and deleted,
/// table by table (pg_stat_user_tables before and after), written again as one set-based statement per table and kind
/// into empty copies of those tables (same columns, defaults, checks and indexes; no foreign keys, no triggers), on one
/// connection. No reads, locks, decisions or round trips per record: an implementation of the same rules over the same
/// tables cannot write a record for less on this machine. Updates are replayed HOT-eligible where a column allows it
/// (a column no index covers, set to itself), so the floor flatters the model rather than the code.
/// </summary>
static class WriteFloor
{
    public sealed record Snapshot(Dictionary<string, (long Inserted, long Updated, long Deleted)> Tables);

    public sealed record Result(TimeSpan Took, long Inserted, long Updated, long Deleted, IReadOnlyList<(string Table, TimeSpan Took, string Rows)> ByTable, IReadOnlyList<string> Skipped);

    /// <summary>The row counts before the timed run, once idle backends have reported theirs (within a second).</summary>
    public static async Task<Snapshot> BeforeRunAsync(NpgsqlDataSource db)
    {
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        return await TakeAsync(db);
    }

    /// <summary>
    /// After the timed run, with its host stopped (its backends gone, their counts reported, nothing competing with the
    /// replay): the floor of what it wrote since <paramref name="before"/>, printed beside its end-to-end rate.
    /// </summary>
    public static async Task PrintAfterRunAsync(NpgsqlDataSource db, Snapshot before, long records, double measuredPerSecond) =>
        Print(await ReplayAsync(db, before, await TakeAsync(db)), records, measuredPerSecond);

    static async Task<Snapshot> TakeAsync(NpgsqlDataSource db)
    {
        await using var cmd = db.CreateCommand("""
            select relname, n_tup_ins, n_tup_upd, n_tup_del from pg_stat_user_tables
            where schemaname = 'public' and relname not like 'bench%' and relname not like 'floor%'
            """);
        await using var reader = await cmd.ExecuteReaderAsync();
        var tables = new Dictionary<string, (long, long, long)>(StringComparer.Ordinal);
        while (await reader.ReadAsync()) tables[reader.GetString(0)] = (reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3));
        return new Snapshot(tables);
    }

    /// <summary>
    /// Writes <paramref name="after"/> less <paramref name="before"/> again into copies of the tables. The rows inserted
    /// are the table's own: repeated up to the count where no unique index forbids it (a drained queue holds few), else
    /// as many as it holds with the time scaled to the count; a table left empty is skipped and named.
    /// </summary>
    static async Task<Result> ReplayAsync(NpgsqlDataSource db, Snapshot before, Snapshot after)
    {
        await using var conn = await db.OpenConnectionAsync();
        var byTable = new List<(string, TimeSpan, string)>();
        var skipped = new List<string>();
        long inserted = 0, updated = 0, deleted = 0;
        foreach (var (table, now) in after.Tables.OrderBy(t => t.Key, StringComparer.Ordinal))
        {
            var then = before.Tables.GetValueOrDefault(table);
            var (ins, upd, del) = (now.Inserted - then.Inserted, now.Updated - then.Updated, now.Deleted - then.Deleted);
            if (ins + upd + del <= 0) continue;
            var copy = "floor_" + table;
            if (await InsertSqlAsync(conn, table, copy, ins) is not { } insert)
            {
                skipped.Add(table);
                continue;
            }

            await Execute(conn, $"drop table if exists {copy}; create table {copy} (like {table} including all)");

            // Inserts; a table the run only updated or deleted from gets rows to do it to, untimed.
            var took = TimeSpan.Zero;
            if (ins > 0) took += await Timed(conn, insert.Sql + Math.Min(ins, insert.Rows)) * ((double)ins / Math.Min(ins, insert.Rows));
            else await Execute(conn, insert.Sql + Math.Min(insert.Rows, Math.Max(upd, del)));

            // Updates, in passes over the copy's rows until the count is reached.
            var column = await ColumnToSetAsync(conn, table);
            var held = await Scalar(conn, $"select count(*) from {copy}");
            for (var left = upd; left > 0 && held > 0; left -= held)
            {
                took += await Timed(conn, $"update {copy} set {column} = {column} where ctid in (select ctid from {copy} limit {Math.Min(left, held)})");
            }

            // Deletes: as many rows as the copy holds, scaled to the count.
            if (del > 0 && held > 0)
            {
                var gone = Math.Min(del, held);
                took += await Timed(conn, $"delete from {copy} where ctid in (select ctid from {copy} limit {gone})") * ((double)del / gone);
            }

            await Execute(conn, $"drop table {copy}");
            byTable.Add((table, took, $"{ins:N0}/{upd:N0}/{del:N0}"));
            (inserted, updated, deleted) = (inserted + ins, updated + upd, deleted + del);
        }

        return new Result(TimeSpan.FromTicks(byTable.Sum(t => t.Item2.Ticks)), inserted, updated, deleted,
            [.. byTable.OrderByDescending(t => t.Item2)], skipped);
    }

    /// <summary>
    /// An insert into the copy, less its row count, and how many rows it can give: the table's own rows (identity and
    /// generated columns left to the copy), repeated as often as needed when no unique index forbids it (a queue);
    /// a drained queue's messages made up (a key each, an empty payload: flattering); null for an empty table.
    /// </summary>
    static async Task<(string Sql, long Rows)?> InsertSqlAsync(NpgsqlConnection conn, string table, string copy, long wanted)
    {
        var live = await Scalar(conn, $"select count(*) from {table}");
        if (live == 0 && table == "topic_message")
        {
            return ($"""
                insert into {copy} (topic, message_key, payload)
                select 'floor', 'key-' || g, jsonb_build_object() from generate_series(1, {Math.Max(wanted, 1)}) g limit
                """ + " ", Math.Max(wanted, 1));
        }

        if (live == 0) return null;
        await using var cmd = new NpgsqlCommand("""
            select string_agg(format('%I', a.attname), ', ' order by a.attnum) filter (where a.attidentity = '' and a.attgenerated = ''),
                   not exists (select 1 from pg_index i where i.indrelid = $1::regclass and i.indisunique
                               and exists (select 1 from pg_attribute u where u.attrelid = i.indrelid and u.attnum = any(i.indkey) and u.attidentity = ''))
            from pg_attribute a where a.attrelid = $1::regclass and a.attnum > 0 and not a.attisdropped
            """, conn);
        cmd.Parameters.AddWithValue(table);
        await using var reader = await cmd.ExecuteReaderAsync();
        await reader.ReadAsync();
        var (columns, repeatable) = (reader.GetString(0), reader.GetBoolean(1));
        var repeats = repeatable ? Math.Max(1, (wanted + live - 1) / live) : 1;
        return ($"insert into {copy} ({columns}) select {columns} from {table} cross join generate_series(1, {repeats}) limit ", live * repeats);
    }

    /// <summary>The column an update sets to itself: one no index covers (HOT-eligible) when there is one.</summary>
    static async Task<string> ColumnToSetAsync(NpgsqlConnection conn, string table)
    {
        await using var cmd = new NpgsqlCommand("""
            select format('%I', a.attname)
            from pg_attribute a
            where a.attrelid = $1::regclass and a.attnum > 0 and not a.attisdropped and a.attidentity = '' and a.attgenerated = ''
            order by exists (select 1 from pg_index i where i.indrelid = a.attrelid
                             and (a.attnum = any(i.indkey)
                                  or coalesce(pg_get_expr(i.indexprs, i.indrelid), '') || ' ' || coalesce(pg_get_expr(i.indpred, i.indrelid), '')
                                     ~ ('\m' || a.attname || '\M'))), a.attnum
            limit 1
            """, conn);
        cmd.Parameters.AddWithValue(table);
        return (string)(await cmd.ExecuteScalarAsync())!;
    }

    static async Task<TimeSpan> Timed(NpgsqlConnection conn, string sql)
    {
        var clock = Stopwatch.StartNew();
        await Execute(conn, sql);
        return clock.Elapsed;
    }

    static async Task Execute(NpgsqlConnection conn, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, conn) { CommandTimeout = 600 };
        await cmd.ExecuteNonQueryAsync();
    }

    static async Task<long> Scalar(NpgsqlConnection conn, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The floor as a bench line, and the heaviest tables.</summary>
    static void Print(Result floor, long records, double measuredPerSecond)
    {
        var perSecond = records / floor.Took.TotalSeconds;
        Console.WriteLine($"floor: the run's own row writes  : {perSecond,10:N0} records/s  ({floor.Took.TotalSeconds:N1} s for {floor.Inserted:N0} inserts, {floor.Updated:N0} updates, {floor.Deleted:N0} deletes; set-based, no reads)");
        Console.WriteLine($"  heaviest (ins/upd/del)         : {string.Join(", ", floor.ByTable.Take(5).Select(t => $"{t.Table} {t.Took.TotalSeconds:N2} s ({t.Rows})"))}"
            + (floor.Skipped.Count > 0 ? $"; not replayed (left empty): {string.Join(", ", floor.Skipped)}" : ""));
        Console.WriteLine($"ratio end to end / write floor   : {measuredPerSecond / perSecond:P0}");
    }
}
