using Microsoft.AspNetCore.Http;
namespace Cdp.Shared.Api;

/// <summary>
/// One route of the product's HTTP surface, decided once: its function name (the Azure host names its HTTP trigger
/// after it), methods, path under <c>/api</c> and what it does. The local host maps every route of
/// <c>ApiRoutes.All</c>; the Azure host has one HTTP trigger per route that hands its request to the same route.
/// </summary>
/// <param name="Path">The route template under /api, as both hosts' routers read it ("accounts/{accountId:guid}").</param>
/// <param name="Permission">
/// What a caller must hold (<see cref="Access.Permissions"/>), or <see cref="Public"/> for the few routes that
/// authenticate otherwise (channel webhooks by signature, sign-in) or answer anyone (health without detail).
/// </param>
public sealed record ApiRoute(string Name, IReadOnlyList<string> Methods, string Path, string Permission, Func<ApiCall, Task<IResult>> Handle)
{
    /// <summary>Declared, never defaulted: a route that forgot its permission does not compile.</summary>
    public const string Public = "public";

    public static ApiRoute Get(string name, string path, string permission, Func<ApiCall, Task<IResult>> handle) => new(name, ["GET"], path, permission, handle);
    public static ApiRoute Post(string name, string path, string permission, Func<ApiCall, Task<IResult>> handle) => new(name, ["POST"], path, permission, handle);
    public static ApiRoute Put(string name, string path, string permission, Func<ApiCall, Task<IResult>> handle) => new(name, ["PUT"], path, permission, handle);
    public static ApiRoute Delete(string name, string path, string permission, Func<ApiCall, Task<IResult>> handle) => new(name, ["DELETE"], path, permission, handle);

    /// <summary>The same handler under another path (the local host's Durable-style management routes).</summary>
    public ApiRoute At(string name, string path) => this with { Name = name, Path = path };

    public override string ToString() => $"{string.Join(",", Methods)} /api/{Path} ({Name})";
}
