using System.Diagnostics;

namespace Cdp.Tests.Support;

/// <summary>Polls a condition until a deadline instead of sleeping a guessed amount.</summary>
public static class Eventually
{
    public static async Task Until(Func<Task<bool>> condition, TimeSpan timeout, string? what = null)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > timeout) throw new TimeoutException($"Not true within {timeout}: {what ?? "condition"}");
            await Task.Delay(20);
        }
    }

    public static Task Until(Func<bool> condition, TimeSpan timeout, string? what = null) =>
        Until(() => Task.FromResult(condition()), timeout, what);
}
