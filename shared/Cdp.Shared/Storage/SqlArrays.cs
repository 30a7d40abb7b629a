using Npgsql;
using NpgsqlTypes;

namespace Cdp.Shared.Storage;

/// <summary>Array parameters for statements over <c>unnest</c>, typed explicitly so a column of nulls keeps its type.</summary>
public static class SqlArrays
{
    public static NpgsqlParameter Texts(IEnumerable<string?> values) =>
        new NpgsqlParameter<string?[]> { TypedValue = [.. values], NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text };
}
