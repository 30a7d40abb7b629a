using Microsoft.Extensions.Logging;
using Npgsql;

namespace Cdp.Shared.Messaging;

/// <summary>
/// A wake-up for loops that wait for work: whoever creates work calls <see cref="Pulse"/>, and every
/// <see cref="Next"/> task taken before that pulse completes. A loop takes <see cref="Next"/> before it looks for work
/// and waits on it after, so a pulse that lands while it is looking is not lost.
/// </summary>
public sealed class WorkSignal
{
    TaskCompletionSource current = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes at the next <see cref="Pulse"/>.</summary>
    public Task Next => Volatile.Read(ref current).Task;

    public void Pulse() => Interlocked.Exchange(ref current, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();


    /// <summary>
    /// Pulses <paramref name="signal"/> on every Postgres NOTIFY on <paramref name="channel"/> (work created by another
    /// process) until <paramref name="stopping"/>, on a connection of its own; reconnects with backoff after a failure
    /// and pulses once on each (re)connect, since notifications sent while it was away are gone.
    /// </summary>
    public static async Task ListenAsync(NpgsqlDataSource db, string channel, WorkSignal signal, ILogger logger, CancellationToken stopping)
    {
        var failures = 0;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await using var conn = await db.OpenConnectionAsync(stopping);
                try
                {
                    conn.Notification += (_, _) => signal.Pulse();
                    await using (var listen = new NpgsqlCommand($"listen \"{channel.Replace("\"", "\"\"", StringComparison.Ordinal)}\"", conn))
                        await listen.ExecuteNonQueryAsync(stopping);
                    signal.Pulse();
                    failures = 0;
                    while (true) await conn.WaitAsync(stopping);
                }
                finally
                {
                    await UnlistenQuietlyAsync(conn);
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                failures++;
                var delay = RetryBackoff.Delay(failures, TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(30), Random.Shared.NextDouble());
                logger.LogWarning(ex, "Listening on {Channel} failed ({Failures} in a row); polling only, reconnecting in {Delay}", channel, failures, delay);
                try { await Task.Delay(delay, stopping); }
                catch (OperationCanceledException) { return; }
            }
        }
    }

    /// <summary>
    /// The pool hands connections back without a session reset (<see cref="CdpPlatform.CreateDataSource"/>), so a
    /// listening connection that goes back whole must stop listening first; a broken one is dropped anyway.
    /// </summary>
    static async Task UnlistenQuietlyAsync(NpgsqlConnection conn)
    {
        if (conn.State != System.Data.ConnectionState.Open) return;
        try
        {
            await using var unlisten = new NpgsqlCommand("unlisten *", conn) { CommandTimeout = 5 };
            await unlisten.ExecuteNonQueryAsync(CancellationToken.None);
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException or TimeoutException)
        {
            // Broken or busy: the pool does not reuse a broken connection.
        }
    }
}

/// <summary>
/// Sends Postgres NOTIFYs on a channel for work this process committed, coalesced: at most one in flight, and every
/// <see cref="Request"/> is followed by a NOTIFY sent after it. A NOTIFY inside each transaction would serialise
/// their commits (Postgres holds one lock for the notification queue until commit), so it goes after the commit,
/// on its own.
/// </summary>
public sealed class PostgresNotifier(NpgsqlDataSource db, string channel, ILogger? logger = null)
{
    int requests;

    /// <summary>Call after committing work; returns at once.</summary>
    public void Request()
    {
        if (Interlocked.Increment(ref requests) == 1) _ = Task.Run(SendAsync);
    }

    async Task SendAsync()
    {
        while (true)
        {
            var seen = Volatile.Read(ref requests);
            try
            {
                await using var cmd = db.CreateCommand("select pg_notify($1, '')");
                cmd.Parameters.Add(new() { Value = channel });
                await cmd.ExecuteNonQueryAsync();
            }
            catch (Exception ex)
            {
                // The listeners fall back to their poll interval.
                logger?.LogWarning(ex, "NOTIFY on {Channel} failed", channel);
            }
            if (Interlocked.Add(ref requests, -seen) == 0) return;
        }
    }
}
