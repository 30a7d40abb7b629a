using Cdp.Shared.Api;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace Cdp.Shared.Access;

/// <summary>
/// Establishes the <see cref="Caller"/> of a request, the same way on both hosts: "Authorization: Bearer" with the
/// bootstrap admin key, an API key or a publishable key; else the staff session cookie; else anonymous. A credential
/// that is presented but not valid (unknown, revoked or expired key) is refused with 401 rather than treated as none.
/// </summary>
public sealed class Authenticate(IOptions<AccessOptions> options, ApiKeys keys, SessionTokens sessions, StaffDirectory staff)
{
    public const string BootstrapActor = "bootstrap", StaffPrefix = "staff:", KeyPrefix = "key:";

    public async Task<Caller> CallerOfAsync(HttpRequest request, CancellationToken ct)
    {
        var authorization = request.Headers.Authorization.FirstOrDefault();
        if (!string.IsNullOrEmpty(authorization))
        {
            if (!authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
                throw Refused("Use 'Authorization: Bearer <api key>'.");
            return await BearerAsync(authorization["Bearer ".Length..].Trim(), ct) ?? throw Refused("The API key is not valid (unknown, revoked or expired).");
        }
        if (request.Cookies[SessionTokens.Cookie] is { Length: > 0 } token && sessions.Read(token) is { } session
            && await SessionCallerAsync(session, ct) is { } caller)
            return caller with { CsrfToken = session.Csrf };
        return Caller.Anonymous;
    }

    /// <summary>The session's subject as it stands now: an active staff member with their current roles, or a live key.</summary>
    async Task<Caller?> SessionCallerAsync(SessionTokens.Session session, CancellationToken ct)
    {
        if (session.Subject.StartsWith(StaffPrefix, StringComparison.Ordinal))
        {
            return await staff.GetAsync(session.Subject[StaffPrefix.Length..], ct) is { Active: true } member
                ? new Caller(CallerKind.Staff, session.Subject, Roles.PermissionsOf(member.Roles))
                {
                    StaffUserId = member.UserId,
                    Department = member.Department,
                    Roles = member.Roles,
                    Scoped = Roles.IsScoped(member.Roles),
                }
                : null;
        }
        if (session.Subject == BootstrapActor)
            return options.Value.BootstrapAdminKey is { Length: > 0 } ? new Caller(CallerKind.Bootstrap, BootstrapActor, Permissions.All.ToHashSet()) : null;
        if (session.Subject.StartsWith(KeyPrefix, StringComparison.Ordinal) && await keys.GetLiveAsync(session.Subject[KeyPrefix.Length..], ct) is { Kind: ApiKeys.SecretKind } info)
            return new Caller(CallerKind.ApiKey, session.Subject, info.Permissions.ToHashSet());
        return null;
    }

    async Task<Caller?> BearerAsync(string key, CancellationToken ct)
    {
        if (options.Value.BootstrapAdminKey is { Length: > 0 } bootstrap
            && ConstantTime.Equal(key, bootstrap))
            return new Caller(CallerKind.Bootstrap, BootstrapActor, Permissions.All.ToHashSet());
        if (!ApiKeys.LooksLikeKey(key) || await keys.VerifyAsync(key, ct) is not { } info) return null;
        var publishable = info.Kind == ApiKeys.PublishableKind;
        // A publishable key lives in web pages: whatever it was created with, it can only post events.
        var granted = publishable ? info.Permissions.Where(p => p == Permissions.EventsWrite) : info.Permissions;
        return new Caller(publishable ? CallerKind.PublishableKey : CallerKind.ApiKey, KeyPrefix + info.KeyId, granted.ToHashSet())
        {
            AllowedOrigins = info.AllowedOrigins,
        };
    }

    static ApiProblemException Refused(string detail) => new(ApiProblem.Unauthorized(detail));
}
