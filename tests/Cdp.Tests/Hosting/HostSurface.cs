using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Cdp.Tests.Hosting;

/// <summary>One thing a host serves or runs, as it is written ("POST /api/leads/{leadId:guid}/convert") and as it is compared.</summary>
public sealed record HostEntry(string Kind, string Shown)
{
    /// <summary>Route parameters compare by position only: names and constraints may differ between the hosts' syntaxes.</summary>
    public string Key => Kind + " " + Regex.Replace(Shown, @"\{[^}]*\}", "{}").TrimEnd('/');

    public override string ToString() => $"{Kind} {Shown}";
}

/// <summary>
/// What a host exposes, read from its C# source with Roslyn's parser (no compilation, so the Azure project that cannot
/// restore here is read all the same). Constants (<c>Topics.DataIngestion</c>, <c>Instances + "/..."</c>) are folded
/// from the const string fields of all the sources given.
/// </summary>
public sealed class HostSurface
{
    public const string Route = "route", Topic = "topic", Orchestrator = "orchestrator", Activity = "activity", Timer = "timer";

    readonly Dictionary<string, HostEntry> entries = new();

    public IReadOnlyCollection<HostEntry> Entries => entries.Values;

    /// <summary>AuthorizationLevel per Azure route key ("Anonymous", "Function"...).</summary>
    public Dictionary<string, string> Authorization { get; } = new();

    void Add(string kind, string shown)
    {
        var entry = new HostEntry(kind, shown);
        entries.TryAdd(entry.Key, entry);
    }

    public static SyntaxTree Parse(string source, string path = "") => CSharpSyntaxTree.ParseText(source, path: path);

    public static IReadOnlyList<SyntaxTree> ParseFolder(string folder) =>
        Directory.EnumerateFiles(folder, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}"))
            .Select(f => Parse(File.ReadAllText(f), f)).ToList();

    /// <summary>
    /// The local host: <paramref name="routes"/> and any Map{Get,Post,Put,Delete} routes (with MapGroup prefixes) and hosted services (its timers) from
    /// <paramref name="localHost"/>; the topic handlers (ITopicHandler, ICoalescingTopicHandler, ITopicBatchHandler, ITopicKeyedBatchHandler) in <paramref name="core"/>,
    /// which its consumers feed; the orchestrators and activities registered with AddOrchestrator/AddActivity.
    /// </summary>
    public static HostSurface Local(IReadOnlyList<SyntaxTree> localHost, IReadOnlyList<SyntaxTree> core, IEnumerable<(string Method, string Pattern)>? routes = null)
    {
        var constants = new Constants(localHost.Concat(core));
        var surface = new HostSurface();
        // The local host maps the core's route table in a loop, which source cannot show: the table itself is given.
        foreach (var (method, pattern) in routes ?? []) surface.Add(Route, $"{method} {pattern}");
        foreach (var invocation in localHost.SelectMany(Invocations))
        {
            var name = MethodName(invocation);
            if (name is "MapGet" or "MapPost" or "MapPut" or "MapDelete" && invocation.ArgumentList.Arguments.Count > 0
                && constants.Fold(invocation.ArgumentList.Arguments[0].Expression) is { } pattern)
            {
                var route = Join(GroupPrefix(invocation, constants), pattern);
                surface.Add(Route, $"{name[3..].ToUpperInvariant()} {route}");
            }
            if (name == "AddHostedService" && TypeArgument(invocation) is { } timer) surface.Add(Timer, timer);
        }
        foreach (var invocation in core.SelectMany(Invocations))
        {
            var name = MethodName(invocation);
            if (name == "AddOrchestrator" && TypeArgument(invocation) is { } orchestrator) surface.Add(Orchestrator, orchestrator);
            if (name == "AddActivity" && TypeArgument(invocation) is { } activity) surface.Add(Activity, activity);
        }
        foreach (var type in core.SelectMany(t => t.GetRoot().DescendantNodes().OfType<ClassDeclarationSyntax>()))
        {
            var bases = type.BaseList?.Types.Select(b => b.Type.ToString()).ToList() ?? [];
            if (!bases.Any(b => b is "ITopicHandler" or "ICoalescingTopicHandler" or "ITopicBatchHandler" or "ITopicKeyedBatchHandler")) continue;
            var topic = type.Members.OfType<PropertyDeclarationSyntax>().FirstOrDefault(p => p.Identifier.Text == "Topic");
            if (topic?.ExpressionBody?.Expression is { } expression && constants.Fold(expression, type.Identifier.Text) is { } value)
                surface.Add(Topic, value);
        }
        return surface;
    }

    /// <summary>
    /// The Azure host: every [Function] method by its trigger — HttpTrigger (methods and Route, under the "api" prefix),
    /// KafkaTrigger (topic), OrchestrationTrigger / ActivityTrigger / TimerTrigger (the function's name).
    /// </summary>
    public static HostSurface Azure(IReadOnlyList<SyntaxTree> azureHost, IReadOnlyList<SyntaxTree> core)
    {
        var constants = new Constants(azureHost.Concat(core));
        var surface = new HostSurface();
        foreach (var method in azureHost.SelectMany(t => t.GetRoot().DescendantNodes().OfType<MethodDeclarationSyntax>()))
        {
            var function = Attributes(method.AttributeLists).FirstOrDefault(a => Named(a, "Function"));
            if (function?.ArgumentList?.Arguments.FirstOrDefault()?.Expression is not { } nameExpression) continue;
            var functionName = constants.Fold(nameExpression);
            foreach (var trigger in method.ParameterList.Parameters.SelectMany(p => Attributes(p.AttributeLists)))
            {
                var args = trigger.ArgumentList?.Arguments ?? default;
                if (Named(trigger, "HttpTrigger"))
                {
                    var level = args.FirstOrDefault(a => a.NameEquals is null)?.Expression.ToString().Split('.').Last() ?? "?";
                    var route = args.FirstOrDefault(a => a.NameEquals?.Name.Identifier.Text == "Route") is { } r ? constants.Fold(r.Expression) : functionName;
                    foreach (var verb in args.Where(a => a.NameEquals is null).Skip(1).Select(a => constants.Fold(a.Expression)).OfType<string>())
                    {
                        var entry = new HostEntry(Route, $"{verb.ToUpperInvariant()} {Join("/api", route ?? "")}");
                        surface.Add(entry.Kind, entry.Shown);
                        surface.Authorization[entry.Key] = level;
                    }
                }
                else if (Named(trigger, "KafkaTrigger") && args.Count > 1 && constants.Fold(args[1].Expression) is { } topic)
                    surface.Add(Topic, topic);
                else if (functionName is not null && Named(trigger, "OrchestrationTrigger")) surface.Add(Orchestrator, functionName);
                else if (functionName is not null && Named(trigger, "ActivityTrigger")) surface.Add(Activity, functionName);
                else if (functionName is not null && Named(trigger, "TimerTrigger")) surface.Add(Timer, functionName);
            }
        }
        return surface;
    }

    /// <summary>What <paramref name="expected"/> has and this lacks (by comparison key), ignoring <paramref name="exempt"/> keys.</summary>
    public IReadOnlyList<HostEntry> Lacks(HostSurface expected, IReadOnlySet<string>? exempt = null) =>
        expected.entries.Where(e => !entries.ContainsKey(e.Key) && !(exempt?.Contains(e.Key) ?? false))
            .Select(e => e.Value).OrderBy(e => e.Key, StringComparer.Ordinal).ToList();

    static IEnumerable<InvocationExpressionSyntax> Invocations(SyntaxTree tree) =>
        tree.GetRoot().DescendantNodes().OfType<InvocationExpressionSyntax>();

    static string? MethodName(InvocationExpressionSyntax invocation) => invocation.Expression switch
    {
        MemberAccessExpressionSyntax m => m.Name.Identifier.Text,
        SimpleNameSyntax s => s.Identifier.Text,
        _ => null,
    };

    static string? TypeArgument(InvocationExpressionSyntax invocation) =>
        invocation.Expression is MemberAccessExpressionSyntax { Name: GenericNameSyntax g } && g.TypeArgumentList.Arguments.Count == 1
            ? g.TypeArgumentList.Arguments[0].ToString().Split('.').Last()
            : null;

    /// <summary>The MapGroup prefixes above a Map call: chained (<c>app.MapGroup("/x").MapGet(...)</c>) or through a local (<c>var g = app.MapGroup("/x")</c>).</summary>
    static string GroupPrefix(InvocationExpressionSyntax invocation, Constants constants)
    {
        if (invocation.Expression is not MemberAccessExpressionSyntax { Expression: var receiver }) return "";
        if (receiver is IdentifierNameSyntax variable)
        {
            var declaration = invocation.Ancestors().OfType<BlockSyntax>().SelectMany(b => b.DescendantNodes().OfType<VariableDeclaratorSyntax>())
                .Concat(invocation.SyntaxTree.GetRoot().DescendantNodes().OfType<VariableDeclaratorSyntax>())
                .FirstOrDefault(d => d.Identifier.Text == variable.Identifier.Text);
            receiver = declaration?.Initializer?.Value ?? receiver;
        }
        return receiver is InvocationExpressionSyntax group && MethodName(group) == "MapGroup" && group.ArgumentList.Arguments.Count > 0
            ? Join(GroupPrefix(group, constants), constants.Fold(group.ArgumentList.Arguments[0].Expression) ?? "")
            : "";
    }

    static string Join(string prefix, string route) =>
        prefix.Length == 0 ? (route.StartsWith('/') ? route : "/" + route)
        : prefix.TrimEnd('/') + "/" + route.TrimStart('/');

    static IEnumerable<AttributeSyntax> Attributes(SyntaxList<AttributeListSyntax> lists) => lists.SelectMany(l => l.Attributes);

    static bool Named(AttributeSyntax attribute, string name) =>
        attribute.Name.ToString().Split('.').Last() is var n && (n == name || n == name + "Attribute");

    /// <summary>const string fields, by "Type.Name" and by bare name, folded through literals, + and nameof.</summary>
    sealed class Constants
    {
        readonly Dictionary<string, ExpressionSyntax> byQualified = new();
        readonly Dictionary<string, (string Type, ExpressionSyntax Value)> byName = new();

        public Constants(IEnumerable<SyntaxTree> trees)
        {
            foreach (var field in trees.SelectMany(t => t.GetRoot().DescendantNodes().OfType<FieldDeclarationSyntax>()))
            {
                if (!field.Modifiers.Any(SyntaxKind.ConstKeyword)) continue;
                var type = field.Ancestors().OfType<TypeDeclarationSyntax>().FirstOrDefault()?.Identifier.Text ?? "";
                foreach (var v in field.Declaration.Variables.Where(v => v.Initializer is not null))
                {
                    byQualified[$"{type}.{v.Identifier.Text}"] = v.Initializer!.Value;
                    byName.TryAdd(v.Identifier.Text, (type, v.Initializer.Value));
                }
            }
        }

        public string? Fold(ExpressionSyntax expression, string? inType = null)
        {
            inType ??= expression.Ancestors().OfType<TypeDeclarationSyntax>().FirstOrDefault()?.Identifier.Text;
            return expression switch
            {
                LiteralExpressionSyntax l when l.IsKind(SyntaxKind.StringLiteralExpression) => l.Token.ValueText,
                BinaryExpressionSyntax b when b.IsKind(SyntaxKind.AddExpression) =>
                    Fold(b.Left, inType) is { } left && Fold(b.Right, inType) is { } right ? left + right : null,
                ParenthesizedExpressionSyntax p => Fold(p.Expression, inType),
                InvocationExpressionSyntax { Expression: IdentifierNameSyntax { Identifier.Text: "nameof" } } n =>
                    n.ArgumentList.Arguments[0].Expression.ToString().Split('.').Last(),
                IdentifierNameSyntax id => Lookup(inType, id.Identifier.Text),
                MemberAccessExpressionSyntax m => byQualified.TryGetValue(m.ToString().Split('.')[^2] + "." + m.Name.Identifier.Text, out var q)
                    ? Fold(q, m.ToString().Split('.')[^2]) : null,
                _ => null,
            };
        }

        string? Lookup(string? inType, string name) =>
            inType is not null && byQualified.TryGetValue($"{inType}.{name}", out var own) ? Fold(own, inType)
            : byName.TryGetValue(name, out var any) ? Fold(any.Value, any.Type)
            : null;
    }
}
