using Cdp.Shared.Access;
using Cdp.Shared.Api;
using Cdp.Shared.VirtualNumbers;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Cdp.Orchestrations.VirtualNumbers;

/// <summary>API.md "Virtual numbers": bind (AXB/XB), look at a binding, unbind, look at an X number. Permission calls:bind.</summary>
public static class VirtualNumberRoutes
{
    public const string BindingsPath = "virtual-numbers/bindings";
    public const string BindingPath = "virtual-numbers/bindings/{bindingId:guid}";
    public const string NumberPath = "virtual-numbers/{virtualNumber}";

    /// <summary>200 BIND when the provider answered within the wait, else 202 OPERATION (the binding goes on in the background).</summary>
    public static readonly ApiRoute CreateBinding = ApiRoute.Post(nameof(CreateBinding), BindingsPath, Permissions.CallsBind, async call =>
    {
        var request = await call.JsonAsync<BindRequest>(16 * 1024);
        var answer = await call.Service<RequestBinding>().RunAsync(request, call.Caller, call.Actor, call.Aborted);
        return ApiResults.Json(answer.Binding, answer.Running ? StatusCodes.Status202Accepted : StatusCodes.Status200OK);
    });

    public static readonly ApiRoute GetBinding = ApiRoute.Get(nameof(GetBinding), BindingPath, Permissions.CallsBind, async call =>
        ApiResults.Json((await VisibleAsync(call)).ToView()));

    /// <summary>Unbinds now (the orchestration's wait for expiry ends with the event); 202 while the provider has not answered.</summary>
    public static readonly ApiRoute DeleteBinding = ApiRoute.Delete(nameof(DeleteBinding), BindingPath, Permissions.CallsBind, async call =>
    {
        var binding = await VisibleAsync(call);
        if (binding.State == BindingStates.NotBind) return ApiResults.Json(binding.ToView());
        await call.Service<AuditLog>().WriteAsync(call.Actor.Did("virtual_number.unbind", "virtual_binding", binding.BindingId.ToString()), call.Aborted);
        await call.Service<IOrchestrationClient>().RaiseEventAsync(BindVirtualNumberOrchestrator.InstanceIdOf(binding.BindingId), BindVirtualNumberOrchestrator.UnbindEvent, "requested");
        binding = await call.Service<BindingStore>().WaitWhileAsync(binding, BindingStates.Bind,
            call.Service<IOptionsMonitor<VirtualNumberOptions>>().CurrentValue.WaitTimeout, call.Aborted);
        return ApiResults.Json(binding.ToView(), binding.State == BindingStates.NotBind ? StatusCodes.Status200OK : StatusCodes.Status202Accepted);
    });

    /// <summary>An X number's state (BIND while any of its bindings is) and its bindings, newest first; a salesperson sees their own.</summary>
    public static readonly ApiRoute GetVirtualNumber = ApiRoute.Get(nameof(GetVirtualNumber), NumberPath, Permissions.CallsBind, async call =>
    {
        var number = call.Route("virtualNumber");
        if (number.Length > 20 || !number.All(c => char.IsAsciiDigit(c) || c == '+'))
            throw ApiProblemException.Invalid("virtualNumber", "A phone number: digits only.");
        var bindings = await call.Service<BindingStore>().OfNumberAsync(number, call.Caller.Scoped ? call.Caller.StaffUserId ?? "" : null, call.Aborted);
        var current = bindings.Where(b => b.State != BindingStates.NotBind).ToList();
        return ApiResults.Json(new
        {
            virtualNumber = number,
            state = current.Any(b => b.State == BindingStates.Bind) ? BindingStates.Bind : current.Count > 0 ? BindingStates.Operation : BindingStates.NotBind,
            bindings = current.Select(b => b.ToView()),
        });
    });

    public static IEnumerable<ApiRoute> All => [CreateBinding, GetBinding, DeleteBinding, GetVirtualNumber];

    /// <summary>The binding, or 404 when it does not exist or (for a salesperson) is not theirs.</summary>
    static async Task<Binding> VisibleAsync(ApiCall call)
    {
        var id = call.RouteId("bindingId");
        var binding = await call.Service<BindingStore>().GetAsync(id, call.Aborted);
        if (binding is null || (call.Caller.Scoped && binding.StaffUserId != call.Caller.StaffUserId))
            throw new ApiProblemException(ApiProblem.NotFound($"No binding {id}."));
        return binding;
    }
}

public static class VirtualNumberRegistration
{
    /// <summary>
    /// Privacy numbers: options <c>VirtualNumbers</c> (read through IOptionsMonitor, so GreyCities applies without a
    /// restart), both provider adapters, the store, the binder, the request both hosts serve, the orchestrator and activities.
    /// </summary>
    public static IServiceCollection AddVirtualNumbers(this IServiceCollection services)
    {
        services.AddOptions<VirtualNumberOptions>()
            .BindConfiguration(VirtualNumberOptions.Section)
            .Validate(o => !o.Errors().Any(), "Invalid VirtualNumbers options (see VirtualNumberOptions.Errors)")
            .ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<BindingStore>();
        services.TryAddTransient<VirtualNumberProviders>();
        services.TryAddTransient<VirtualNumberBinder>();
        services.TryAddTransient<RequestBinding>();
        services.AddHttpClient<DyplsProvider>();
        services.AddHttpClient<LegacyProvider>();
        services.AddTransient<IVirtualNumberProvider>(sp => sp.GetRequiredService<DyplsProvider>());
        services.AddTransient<IVirtualNumberProvider>(sp => sp.GetRequiredService<LegacyProvider>());

        services.AddOrchestrator<BindVirtualNumberOrchestrator>();
        services.AddActivity<AttemptVirtualNumberBinding>();
        services.AddActivity<GiveUpVirtualNumberBinding>();
        services.AddActivity<AlertVirtualNumberBinding>();
        services.AddActivity<UnbindVirtualNumber>();
        return services;
    }
}
