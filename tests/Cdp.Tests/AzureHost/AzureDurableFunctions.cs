using System.Collections.Concurrent;
using System.Reflection;
using Cdp.Orchestrations;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Microsoft.Extensions.DependencyInjection;

namespace Cdp.Tests.AzureHost;

/// <summary>
/// The Azure host's own Durable functions for a <see cref="DurableTaskRegistry"/>: every [Function] method of
/// functions/Cdp.Functions with an [OrchestrationTrigger] or [ActivityTrigger] parameter, under its function name,
/// invoked the way the Functions worker invokes it: the class activated per invocation from a new scope of the host's
/// services (the worker's FunctionContext.InstanceServices), the trigger bound, a CancellationToken parameter given
/// the invocation's token. Counts orchestrator executions per instance, so tests can see that replays happened.
/// </summary>
public sealed class AzureDurableFunctions
{
    readonly IServiceProvider services;
    readonly CancellationToken stopping;
    readonly List<(string Name, MethodInfo Method)> orchestrators = [];
    readonly List<(string Name, MethodInfo Method)> activities = [];
    readonly ConcurrentDictionary<string, int> executions = new();

    public AzureDurableFunctions(IServiceProvider services, CancellationToken stopping)
    {
        this.services = services;
        this.stopping = stopping;
        foreach (var method in typeof(Cdp.Functions.AzureHost).Assembly.GetTypes()
                     .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly)))
        {
            if (method.GetCustomAttribute<FunctionAttribute>()?.Name is not { } name) continue;
            var parameters = method.GetParameters();
            if (parameters.Any(p => p.IsDefined(typeof(OrchestrationTriggerAttribute)))) orchestrators.Add((name, method));
            else if (parameters.Any(p => p.IsDefined(typeof(ActivityTriggerAttribute)))) activities.Add((name, method));
        }

        // Every orchestrator and activity the core registers must run as one of the host's functions.
        core = services.GetServices<OrchestrationRegistration>().ToList();
        var missing = core.Where(r => !(r.IsActivity ? activities : orchestrators).Any(f => f.Name == r.Name)).Select(r => r.Name).ToList();
        if (missing.Count > 0)
            throw new InvalidOperationException($"No Azure function for the core's {string.Join(", ", missing)}.");
    }

    readonly List<OrchestrationRegistration> core;

    public IReadOnlyList<string> OrchestratorNames => [.. orchestrators.Select(f => f.Name)];

    public IReadOnlyList<string> ActivityNames => [.. activities.Select(f => f.Name)];

    /// <summary>How many times the worker has run the orchestrator function of <paramref name="instanceId"/> (1 + replays).</summary>
    public int ExecutionsOf(string instanceId) => executions.GetValueOrDefault(instanceId);

    public void AddTo(DurableTaskRegistry registry)
    {
        foreach (var (name, method) in orchestrators)
            Generic(nameof(AddOrchestrator), InputOf(name), Output(method)).Invoke(this, [registry, name, method]);
        foreach (var (name, method) in activities)
            Generic(nameof(AddActivity), Trigger(method).ParameterType, Output(method)).Invoke(this, [registry, name, method]);
    }

    /// <summary>
    /// On Functions the orchestrator's context (FunctionsOrchestrationContext) converts the input to whatever
    /// GetInput&lt;T&gt; asks for; the plain worker's context only casts what it deserialized for the registered input
    /// type. So each function is registered with the input type of the core orchestrator it runs.
    /// </summary>
    Type InputOf(string orchestrator)
    {
        for (var type = core.Single(r => !r.IsActivity && r.Name == orchestrator).Type; type is not null; type = type.BaseType)
            if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Cdp.Orchestrations.Orchestrator<,>)) return type.GetGenericArguments()[0];
        throw new NotSupportedException($"{orchestrator} does not derive from Orchestrator<TIn, TOut>.");
    }

    void AddOrchestrator<TIn, TOut>(DurableTaskRegistry registry, string name, MethodInfo method)
    {
        // A delegate built apart from the call: DurableTask's analyzers (0.2.0) crash on a lambda written in it.
        Func<TaskOrchestrationContext, TIn, Task<TOut>> orchestrator = (context, _) =>
        {
            executions.AddOrUpdate(context.InstanceId, 1, (_, n) => n + 1);
            return InvokeAsync<TOut>(method, context);
        };
        registry.AddOrchestratorFunc(name, orchestrator);
    }

    void AddActivity<TIn, TOut>(DurableTaskRegistry registry, string name, MethodInfo method) =>
        registry.AddActivityFunc<TIn, TOut>(name, (_, input) => InvokeAsync<TOut>(method, input));

    async Task<TOut> InvokeAsync<TOut>(MethodInfo method, object? trigger)
    {
        using var scope = services.CreateScope();
        var instance = method.IsStatic ? null : ActivatorUtilities.CreateInstance(scope.ServiceProvider, method.DeclaringType!);
        var arguments = method.GetParameters().Select(p => Bind(method, p, trigger)).ToArray();
        return await (Task<TOut>)method.Invoke(instance, BindingFlags.DoNotWrapExceptions, null, arguments, null)!;
    }

    object? Bind(MethodInfo method, ParameterInfo parameter, object? trigger) =>
        parameter.IsDefined(typeof(OrchestrationTriggerAttribute)) || parameter.IsDefined(typeof(ActivityTriggerAttribute)) ? trigger
        : parameter.ParameterType == typeof(CancellationToken) ? stopping
        : throw new NotSupportedException(
            $"{method.DeclaringType!.Name}.{method.Name}: parameter {parameter.Name} ({parameter.ParameterType.Name}) is bound by nothing this test host can supply.");

    static ParameterInfo Trigger(MethodInfo method) => method.GetParameters().Single(p => p.IsDefined(typeof(ActivityTriggerAttribute)));

    static Type Output(MethodInfo method) =>
        method.ReturnType.IsGenericType && method.ReturnType.GetGenericTypeDefinition() == typeof(Task<>)
            ? method.ReturnType.GetGenericArguments()[0]
            : throw new NotSupportedException($"{method.DeclaringType!.Name}.{method.Name} must return Task<T>.");

    static MethodInfo Generic(string name, params Type[] types) =>
        typeof(AzureDurableFunctions).GetMethod(name, BindingFlags.NonPublic | BindingFlags.Instance)!.MakeGenericMethod(types);
}
