using Cdp.Shared.Storage;
using Npgsql;
using NpgsqlTypes;

namespace Cdp.Shared.Identity;

public sealed partial class IdentityResolver
{
    private sealed partial class Run
    {
        /// <summary>Merges <paramref name="incoming"/> into a row whose columns are the dictionary keys.</summary>
        private async Task MergeRow(
            RowWrite update, string table, string idColumn, Guid id, Dictionary<string, string?> incoming, string[] uniqueFields)
        {
            var columns = string.Join(", ", incoming.Keys);
            var (current, fieldTimes, fieldSources) = known is not null && known.TryRow(id, incoming.Keys, out var held)
                ? (new Dictionary<string, string?>(incoming.Keys.Select(k => KeyValuePair.Create(k, held.Row[k]))), held.FieldTimes, held.FieldSources)
                : await Read(
                $"select {columns}, field_times::text as field_times, field_sources::text as field_sources from {table} where {idColumn} = @id for update",
                new { id },
                async reader =>
                {
                    if (!await reader.ReadAsync(ct))
                    {
                        throw new InvalidOperationException($"{table} {id} vanished while locked.");
                    }

                    var row = new Dictionary<string, string?>();
                    foreach (var column in incoming.Keys)
                    {
                        row[column] = StringOrNull(reader, column);
                    }

                    return (row, StringOrNull(reader, "field_times"), StringOrNull(reader, "field_sources"));
                });

            await DropTaken(incoming, current, table, idColumn, id, uniqueFields);
            var merged = FieldMerge.Merge(current, IdentityJson.FieldTimes(fieldTimes), incoming, atOffset,
                new FieldSourcing(IdentityJson.FieldSources(fieldSources), r.Channel));
            if (!merged.HasChanges)
            {
                return;
            }

            var parameters = new Dictionary<string, object?>();
            foreach (var (column, value) in merged.Values)
            {
                parameters[column] = value;
            }

            parameters["id"] = id;
            parameters["fieldTimes"] = IdentityJson.Serialize(merged.FieldTimes);
            parameters["fieldSources"] = IdentityJson.Serialize(merged.FieldSources);
            Write(update, parameters);
        }

        /// <summary>The merge of <paramref name="columns"/> (and the field times and sources) into rows of <paramref name="table"/>.</summary>
        private static RowWrite UpdateOf(WriteRank rank, string table, string idColumn, string[] columns) => new(rank, $"""
            update {table} t set {string.Join(", ", columns.Select(c => $"{c} = w.{c}"))},
                   field_times = w.field_times::jsonb, field_sources = w.field_sources::jsonb, updated_at = now()
            from unnest(@id, {string.Join(", ", columns.Select(c => $"@{c}"))}, @fieldTimes, @fieldSources)
                 as w(id, {string.Join(", ", columns)}, field_times, field_sources)
            where t.{idColumn} = w.id
            """, [("id", NpgsqlDbType.Uuid), .. columns.Select(c => (c, NpgsqlDbType.Text)), ("fieldTimes", NpgsqlDbType.Text), ("fieldSources", NpgsqlDbType.Text)]);

        /// <summary>The columns of an entity insert, named as <see cref="InsertParameters"/> names its values.</summary>
        private static (string, NpgsqlDbType)[] InsertColumns(string[] columns, (string, NpgsqlDbType) extra) =>
            [("id", NpgsqlDbType.Uuid), .. columns.Select(c => (c, NpgsqlDbType.Text)), extra, ("shard", NpgsqlDbType.Smallint),
             ("fieldTimes", NpgsqlDbType.Text), ("fieldSources", NpgsqlDbType.Text)];

        private static string? StringOrNull(NpgsqlDataReader reader, string column)
        {
            var ordinal = reader.GetOrdinal(column);
            return reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
        }

        /// <summary>
        /// A unique key (mobile, email, WeCom id, credit code) another entity already holds is left out: the record
        /// matched this entity by a stronger key, and moving the value would silently re-point the other one.
        /// </summary>
        private async Task DropTaken(
            Dictionary<string, string?> incoming, Dictionary<string, string?> current, string table, string idColumn,
            Guid id, string[] uniqueFields)
        {
            foreach (var field in uniqueFields)
            {
                if (incoming.GetValueOrDefault(field) is { } value && value != current.GetValueOrDefault(field)
                    && (known is not null && known.TryTaken(table, field, value, id, out var taken)
                        ? taken
                        : await FirstId($"select {idColumn} from {table} where {field} = @v and {idColumn} <> @id limit 1", new { v = value, id }) is not null))
                {
                    incoming[field] = null;
                }
            }
        }

        private Dictionary<string, object?> InsertParameters(Guid id, Dictionary<string, string?> fields, object extra)
        {
            var parameters = new Dictionary<string, object?>();
            foreach (var property in PropertiesOf(extra))
            {
                parameters[property.Name] = property.GetValue(extra);
            }

            foreach (var (column, value) in fields)
            {
                parameters[column] = value;
            }

            parameters["id"] = id;
            parameters["shard"] = Shard.Of(id);
            var given = fields.Where(f => !string.IsNullOrWhiteSpace(f.Value)).ToList();
            parameters["fieldTimes"] = IdentityJson.Serialize(given.ToDictionary(f => f.Key, _ => atOffset));
            parameters["fieldSources"] = IdentityJson.Serialize(given.ToDictionary(f => f.Key, _ => r.Channel));
            return parameters;
        }
    }
}
