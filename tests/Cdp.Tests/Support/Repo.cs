namespace Cdp.Tests.Support;

/// <summary>The checkout the tests were built from: the folder above the test binaries that holds Cdp.Functions.sln.</summary>
public static class Repo
{
    public static string Root { get; } = FindRoot();

    static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Cdp.Functions.sln"))) return dir.FullName;
        throw new InvalidOperationException("Cdp.Functions.sln not found above " + AppContext.BaseDirectory);
    }
}
