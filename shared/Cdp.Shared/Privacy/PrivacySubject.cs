using System.Text;
using Cdp.Shared.Api;
using Cdp.Shared.Cleansing;

namespace Cdp.Shared.Privacy;

/// <summary>The body of the subject routes (API.md "Privacy (PIPL)").</summary>
public sealed record SubjectRequest(string? Mobile, string? Email, string? Reason);

/// <summary>
/// The person a privacy request is about, by their normalised mobile and/or email (the forms the stores hold). Also the
/// SQL that finds them in free text (raw payloads, review records, queued messages), where a mobile may still be
/// spelled with spaces or dashes and an email in any case. Pure.
/// </summary>
public sealed record PrivacySubject(string? Mobile, string? Email)
{
    public const int MaxReasonLength = 500;

    /// <summary>422 naming the field: neither mobile nor email, a malformed one, or (erase) no reason.</summary>
    public static PrivacySubject Parse(SubjectRequest? body, bool needReason)
    {
        var errors = new Dictionary<string, string[]>();
        if (body is null || (string.IsNullOrWhiteSpace(body.Mobile) && string.IsNullOrWhiteSpace(body.Email)))
            errors["mobile"] = ["Name the person by mobile, email or both."];
        string? mobile = null, email = null;
        if (body is not null)
        {
            if (!MobileNumber.TryNormalize(body.Mobile, out mobile, out var mobileProblem)) errors["mobile"] = [$"Mobile {mobileProblem}."];
            if (!EmailAddress.TryNormalize(body.Email, out email, out var emailProblem)) errors["email"] = [$"Email {emailProblem}."];
            if (needReason && string.IsNullOrWhiteSpace(body.Reason)) errors["reason"] = ["Say why the data is erased (kept with the request)."];
            if (body.Reason is { Length: > MaxReasonLength }) errors["reason"] = [$"At most {MaxReasonLength} characters."];
        }
        if (errors.Count > 0) throw new ApiProblemException(ApiProblem.Unprocessable(errors));
        return new PrivacySubject(mobile, email);
    }

    /// <summary>
    /// A POSIX regex for the mobile's 11 digits with an optional space or dash between any two, not inside a longer
    /// run of digits; null without a mobile.
    /// </summary>
    public string? MobilePattern
    {
        get
        {
            if (Mobile is null) return null;
            var p = new StringBuilder("(^|[^0-9])");
            for (var i = 0; i < Mobile.Length; i++) p.Append(i == 0 ? "" : "[ -]?").Append(Mobile[i]);
            return p.Append("([^0-9]|$)").ToString();
        }
    }

    /// <summary>SQL true when <paramref name="column"/> (text) mentions the subject; parameters @mobilePattern and @email.</summary>
    public static string Mentions(string column) =>
        $"(({column}) ~ @mobilePattern or strpos(lower({column}), @email) > 0)";
}
